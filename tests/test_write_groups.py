"""The hot short write use cases of the runner (``fastreg.runner``, its ``GROUPED`` placement): on SQLite the
calls of one event-loop turn run on the loop thread in one transaction, each in its own savepoint, so a refused one
leaves the others committed; a caller gone before its turn is skipped; while another thread holds the write lock
they wait in a worker thread (the loop keeps serving); on PostgreSQL each runs on the loop thread with its own
transaction on an asyncio connection (``AsyncConnection.run_sync``). The background WAL checkpointer copies the
WAL back and stops cleanly."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from fastreg.adapters.db.checkpoint import start_checkpointer
from fastreg.adapters.db.engine import build_engine
from fastreg.adapters.db.migrate import upgrade
from fastreg.adapters.db.models import AuditEvent, Identifier
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind
from fastreg.platform import Platform, build_platform
from fastreg.runner import Runner
from fastreg.services import audit
from fastreg.settings import Settings


def audited_use_case(platform: Platform, actor: str, *, refuse: bool = False) -> tuple[int, int]:
    """A short write use case as the services write them: its own unit of work, an audit row, a commit."""
    with platform.uow() as uow:
        audit.record(uow.audit, uow.clock.now(), AuditKind.REFUSED, actor)
        uow.session.flush()
        if refuse:
            raise DomainError(Err.QUOTA_EXCEEDED, limit=5)
        uow.commit()
        return threading.get_ident(), id(uow.conn)


def actors(platform: Platform) -> set[str]:
    with platform.uow(readonly=True) as uow:
        return set(uow.session.scalars(select(AuditEvent.actor)))


def test_calls_of_one_turn_commit_together_on_the_loop_thread(platform: Platform) -> None:
    groups = Runner(platform, grouped={audited_use_case})

    async def main() -> tuple[int, list[Any]]:
        calls = [groups.run(audited_use_case, platform, f"call-{n}", refuse=n == 2) for n in range(5)]
        try:
            return threading.get_ident(), await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await groups.close()

    loop_thread, outcomes = asyncio.run(main())
    assert isinstance(outcomes[2], DomainError) and outcomes[2].errcode == 61055
    kept = [outcome for n, outcome in enumerate(outcomes) if n != 2]
    assert {thread for thread, _ in kept} == {loop_thread}
    if platform.engine.dialect.name == "sqlite":
        assert len({connection for _, connection in kept}) == 1  # one transaction for the group
    # The refused call's savepoint was rolled back; the others' work is committed.
    assert actors(platform) == {"call-0", "call-1", "call-3", "call-4"}


def test_a_caller_gone_before_its_turn_is_not_run(platform: Platform) -> None:
    groups = Runner(platform, grouped={audited_use_case})

    async def main() -> None:
        gone = asyncio.ensure_future(groups.run(audited_use_case, platform, "gone"))
        stays = asyncio.ensure_future(groups.run(audited_use_case, platform, "stays"))
        await asyncio.sleep(0)  # both are queued
        gone.cancel()
        await stays
        await groups.close()

    asyncio.run(main())
    if platform.engine.dialect.name == "sqlite":
        assert actors(platform) == {"stays"}
    else:
        assert "stays" in actors(platform)


def test_on_postgres_the_loop_serves_other_calls_while_one_waits_for_the_database(postgres_url: str) -> None:
    """Each call runs on the loop thread with its own transaction (``AsyncConnection.run_sync``): one that waits on the
    database (here a row lock held by another transaction) does not hold up the others, and finishes once the
    lock is released."""
    engine = build_engine(postgres_url)
    platform = build_platform(Settings(database_url=postgres_url, sandbox_key="k"), engine=engine)
    finished: list[str] = []

    def waits_for_lock() -> int:
        with platform.uow() as uow:
            uow.session.execute(text("SELECT * FROM sandbox_state WHERE key = 'lock-probe' FOR UPDATE"))
            finished.append("waiter")
            return threading.get_ident()

    def quick() -> int:
        with platform.uow(readonly=True) as uow:
            uow.session.execute(text("SELECT 1"))
            finished.append("quick")
            return threading.get_ident()

    groups = Runner(platform, grouped={waits_for_lock, quick})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sandbox_state WHERE key = 'lock-probe'"))
        conn.execute(text("INSERT INTO sandbox_state (key, value) VALUES ('lock-probe', '{}')"))
    holder = engine.connect()
    holder.execute(text("SELECT * FROM sandbox_state WHERE key = 'lock-probe' FOR UPDATE"))

    async def main() -> tuple[int, list[int]]:
        waiter = asyncio.ensure_future(groups.run(waits_for_lock))
        await asyncio.sleep(0.2)
        first = await groups.run(quick)  # answered while the other call still waits for the lock
        assert finished == ["quick"]
        holder.rollback()  # a blocking call here, but quick: releases the lock
        try:
            return threading.get_ident(), [first, await waiter]
        finally:
            await groups.close()

    try:
        loop_thread, threads = asyncio.run(main())
    finally:
        holder.close()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM sandbox_state WHERE key = 'lock-probe'"))
        engine.dispose()
    assert finished == ["quick", "waiter"]
    assert threads == [loop_thread, loop_thread]


def test_waits_in_a_worker_thread_while_another_thread_writes(tmp_path: Path) -> None:
    from fastreg.platform import build_platform
    from fastreg.settings import Settings

    platform = build_platform(Settings(database_url=f"sqlite:///{tmp_path}/w.db", data_dir=tmp_path))
    upgrade(platform.settings.database_url)
    lock = platform.write_lock
    assert lock is not None
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:
        with lock:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    held.wait(5)
    groups = Runner(platform, grouped={audited_use_case})

    async def main() -> tuple[int, tuple[int, int], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.2, release.set)
        try:
            ran = await groups.run(audited_use_case, platform, "waited")
        finally:
            await groups.close()
        ticking.cancel()
        return threading.get_ident(), ran, ticks

    loop_thread, (ran_on, _), ticks = asyncio.run(main())
    thread.join()
    assert ran_on != loop_thread
    assert ticks >= 5  # the loop kept running while the use case waited for the lock
    assert actors(platform) == {"waited"}
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


def clashing_use_case(platform: Platform) -> None:
    """A use case whose ORM flush fails (the identifier exists)."""
    with platform.uow() as uow:
        uow.session.add(Identifier(value="taken", kind="appid"))
        uow.session.flush()
        uow.commit()


def test_a_failed_flush_in_a_group_leaves_the_others_committed(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.session.add(Identifier(value="taken", kind="appid"))
        uow.commit()
    groups = Runner(platform, grouped={audited_use_case, clashing_use_case})

    async def main() -> list[Any]:
        calls = [
            groups.run(audited_use_case, platform, "before"),
            groups.run(clashing_use_case, platform),
            groups.run(audited_use_case, platform, "after"),
        ]
        try:
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await groups.close()

    outcomes = asyncio.run(main())
    assert isinstance(outcomes[1], IntegrityError)
    assert not isinstance(outcomes[0], BaseException) and not isinstance(outcomes[2], BaseException)
    assert actors(platform) == {"before", "after"}
