"""Short write use cases from async routes: on SQLite they run on the event loop thread while this process's write
lock is free, and in a worker thread while another thread holds it (the loop keeps serving meanwhile); on
PostgreSQL always in a worker thread. The background WAL checkpointer copies the WAL back and stops cleanly."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text

from fastreg.adapters.db.checkpoint import start_checkpointer
from fastreg.adapters.db.engine import build_engine
from fastreg.platform import Platform
from fastreg.web.deps import run_unit_of_work


def test_runs_on_the_loop_when_free_sqlite_only(platform: Platform) -> None:
    async def main() -> tuple[int, int]:
        return threading.get_ident(), await run_unit_of_work(platform, threading.get_ident)

    loop_thread, ran_on = asyncio.run(main())
    if platform.engine.dialect.name == "sqlite":
        assert ran_on == loop_thread
    else:
        assert ran_on != loop_thread


def test_waits_in_a_worker_thread_while_another_thread_writes(tmp_path: Path) -> None:
    from fastreg.platform import build_platform
    from fastreg.settings import Settings

    platform = build_platform(Settings(database_url=f"sqlite:///{tmp_path}/w.db", data_dir=tmp_path))
    assert platform.write_lock is not None
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with platform.write_lock:  # type: ignore[union-attr]
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)

    def locked_write() -> int:  # as a unit of work does
        with platform.write_lock:  # type: ignore[union-attr]
            return threading.get_ident()

    async def main() -> tuple[int, int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.2, release.set)
        ran_on = await run_unit_of_work(platform, locked_write)
        ticking.cancel()
        return threading.get_ident(), ran_on, ticks

    loop_thread, ran_on, ticks = asyncio.run(main())
    thread.join()
    assert ran_on != loop_thread
    assert ticks >= 5  # the loop kept running while the use case waited for the lock
    platform.engine.dispose()


def test_checkpointer_copies_the_wal_back_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    engine = build_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        for _ in range(200):
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "y" * 500})
    # The rows are in the WAL only (the automatic checkpoint waits for thousands of pages).
    time.sleep(0.1)
    assert path.stat().st_size < 20_000
    before = set(threading.enumerate())
    stop = start_checkpointer(engine, interval=0.02)
    (checkpointer,) = set(threading.enumerate()) - before
    try:
        deadline = time.monotonic() + 5
        while path.stat().st_size < 100_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert path.stat().st_size >= 100_000  # copied into the database file
    finally:
        stop()
    assert checkpointer.name == "fastreg-wal-checkpoint"
    assert not checkpointer.is_alive()
    with sqlite3.connect(path) as probe:
        assert probe.execute("SELECT count(*) FROM t").fetchone() == (200,)
    engine.dispose()
