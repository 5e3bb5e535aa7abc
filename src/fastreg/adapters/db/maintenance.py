"""Whole-database operations: wiping the data (sandbox reset, tests), creating the schema, and the readiness
probe."""

from __future__ import annotations

import functools
import time

from sqlalchemy import Engine, Table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from fastreg.adapters.db.models import SandboxState, metadata

READINESS_KEY = "readiness-probe"

# Kept across a sandbox reset: nothing holds data that a reset must remove except these tables' rows.
KEEP_ON_RESET: frozenset[str] = frozenset()

# PostgreSQL: how long the reset waits for one table's lock before it lets go of all of them and tries again.
LOCK_WAIT_MS = 50
LOCK_NOT_AVAILABLE = "55P03"
# How long the reset keeps trying before it answers busy: well inside an HTTP client's usual 30 s timeout.
PATIENCE_SECONDS = 20.0


class DatabaseBusy(Exception):
    """Other transactions kept the tables for longer than the reset would wait."""


def _tables() -> list[Table]:
    return [table for table in reversed(metadata.sorted_tables) if table.name not in KEEP_ON_RESET]


@functools.cache
def _deletes() -> tuple[str, ...]:
    return tuple(f'DELETE FROM "{table.name}"' for table in _tables())


def wipe(session: Session) -> None:
    """Delete every row of every table, children first, in the caller's transaction (nothing else may write
    meanwhile: see :func:`wipe_alone`). Plain statements on the driver: building and compiling twenty ``Delete``
    constructs was most of a sandbox reset's time."""
    connection = session.connection()
    for statement in _deletes():
        connection.exec_driver_sql(statement)


def wipe_alone(sessions: sessionmaker[Session], *, patience_seconds: float = PATIENCE_SECONDS) -> None:
    """Wipe the database while no other transaction is in it, so that every concurrent call either finishes
    before the wipe or sees the empty world after it (a call that had inserted a child row of a parent being
    deleted would otherwise fail one side or the other).

    SQLite: the write transaction holds the database's single write lock, and readers keep their snapshot.
    PostgreSQL: the transaction first takes every table in ACCESS EXCLUSIVE mode, which waits for the
    transactions using them to end and holds new ones back until the wipe commits. A transaction in flight may
    still need a table already taken (a deadlock PostgreSQL would break by failing one side a second later):
    each table is waited for at most ``LOCK_WAIT_MS``, after which every lock is let go and the wipe tries
    again. Raises :class:`DatabaseBusy` after ``patience_seconds`` of that."""
    deadline = time.monotonic() + patience_seconds
    attempt = 0
    while True:
        try:
            with sessions() as session, session.begin():
                if session.get_bind().dialect.name == "postgresql":
                    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'"))
                    names = ", ".join(f'"{table.name}"' for table in _tables())
                    session.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
                wipe(session)
            return
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            if time.monotonic() > deadline:
                raise DatabaseBusy(f"the tables stayed in use for {patience_seconds:.0f} s") from error
            attempt += 1
            time.sleep(min(0.005 * 2**attempt, 0.1))


def wipe_engine(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        wipe(session)


def probe_write(session: Session) -> None:
    """Write one row in the caller's transaction (which the caller rolls back): fails when the database is
    unreachable, read-only (a standby, a read-only file) or its write lock cannot be had."""
    session.add(SandboxState(key=READINESS_KEY, value={}))
    session.flush()
