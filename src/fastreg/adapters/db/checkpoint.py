"""SQLite WAL checkpoints on a background thread.

In WAL mode every commit appends pages to the ``-wal`` file, and by default the commit that pushes it past 1,000
pages copies them back into the database (with an fsync) before it returns: one request in forty on the
registration path paid for the other thirty-nine. A server process runs the checkpoint here instead, on its own
connection and thread (SQLite releases the GIL while it copies), in ``PASSIVE`` mode so it never waits for or
blocks a writer. The connections keep SQLite's automatic checkpoint as a safety net at a higher threshold
(``AUTOCHECKPOINT_PAGES``) for processes that do not run this thread (the CLI, scripts).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from sqlalchemy import Engine

log = logging.getLogger("fastreg.db")

# The per-connection automatic checkpoint threshold (pages of 4 KiB): ~40 MiB of WAL.
AUTOCHECKPOINT_PAGES = 10_000
# How often the background thread checkpoints; a checkpoint of an already copied WAL costs microseconds.
INTERVAL_SECONDS = 0.25


def start_checkpointer(engine: Engine, interval: float = INTERVAL_SECONDS) -> Callable[[], None]:
    """Start the background checkpoint thread for a file SQLite database; returns a stopper (a no-op for other
    databases)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return lambda: None
    stopping = threading.Event()

    def run() -> None:
        connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA busy_timeout=1000")
            while not stopping.wait(interval):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # a locked or vanished database: try again next time
                    log.warning("wal checkpoint failed: %s", error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="fastreg-wal-checkpoint", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=5)

    return stop
