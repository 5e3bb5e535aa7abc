"""The benches' set-up before a measurement (``bench/_common.py``): history registered through the services, then
the database settled (PostgreSQL: vacuumed and analyzed; SQLite: its WAL checkpointed and truncated), on both
databases."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bench._common import bench_platform, migrate, register_history, settle_database
from sqlalchemy import create_engine, func, select, text

from fastreg.adapters.db.models import Link, MiniProgram, Registration
from tests.pg import temporary_database


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated and empty."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bench.db'}"
        migrate(url)
        yield url
        return
    with temporary_database("fastreg_bench_setup") as url:
        migrate(url)
        yield url


def test_history_is_registered_and_the_database_settled(fresh_url: str, tmp_path: Path) -> None:
    platform = bench_platform(fresh_url, str(tmp_path / "data"))
    try:
        register_history(platform, 12)
        with platform.engine.connect() as conn:
            completed = conn.execute(
                select(func.count()).select_from(Registration).where(Registration.status == "completed")
            ).scalar_one()
            mps = conn.execute(select(func.count()).select_from(MiniProgram)).scalar_one()
            links = conn.execute(select(func.count()).select_from(Link)).scalar_one()
        assert (completed, mps, links) == (12, 12, 12)
        if fresh_url.startswith("sqlite"):
            # The platform's connections are still open (as the bench's servers would be): the WAL is kept.
            wal = Path(fresh_url.removeprefix("sqlite:///") + "-wal")
            assert wal.stat().st_size > 0
            settle_database(fresh_url)
            assert wal.stat().st_size == 0
            return
    finally:
        platform.engine.dispose()
    engine = create_engine(fresh_url, isolation_level="AUTOCOMMIT")  # each read a fresh statistics snapshot
    try:
        with engine.connect() as conn:
            stale = text(
                "SELECT n_mod_since_analyze, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname = 'registrations'"
            )
            # The statistics collector reports with a delay: wait for the inserts to be counted.
            assert _eventually(lambda: conn.execute(stale).one()[0] >= 12)
            settle_database(fresh_url)
            assert _eventually(lambda: tuple(conn.execute(stale).one()) == (0, True))
    finally:
        engine.dispose()


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
