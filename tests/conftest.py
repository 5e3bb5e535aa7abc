"""Shared fixtures: every service and db test runs on SQLite and on PostgreSQL.

PostgreSQL: ``FASTREG_TEST_POSTGRES_URL`` (default the local ``test`` database); each run creates its own
database and drops it at the end, so runs never collide. When PostgreSQL is unreachable its tests are
skipped; ``FASTREG_REQUIRE_POSTGRES=1`` (set by CI) turns that into a failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from fastreg.adapters.db.engine import build_engine
from fastreg.adapters.db.maintenance import wipe_engine
from fastreg.adapters.db.migrate import upgrade
from fastreg.domain.clock import FixedClock
from fastreg.platform import Platform, build_platform
from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.api.world import World
from tests.pg import temporary_database

START = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("db") / "fastreg.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_database("fastreg_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live fastreg on its own PostgreSQL database (created for this run, dropped afterwards)."""
    data_dir: Path = tmp_path_factory.mktemp("fastreg-pg")
    with temporary_database("fastreg_live") as url:
        live, stop = run_live_server(Settings(database_url=url, data_dir=data_dir, sandbox_key="fastreg-test-key"))
        yield live
        stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path, sandbox_key="test-key", public_url="http://testserver")


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    engine = build_engine(settings.database_url)
    wipe_engine(engine)
    yield build_platform(settings, clock=clock, engine=engine)
    engine.dispose()


# ---------------------------------------------------------------- live servers over real HTTP


@pytest.fixture(params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest) -> LiveServer:
    """The server a test runs against: the plugin's SQLite server, then the PostgreSQL one."""
    name = "fastreg_server" if request.param == "sqlite" else "postgres_server"
    server: LiveServer = request.getfixturevalue(name)
    return server


@pytest.fixture
def sandbox(live: LiveServer) -> Iterator[SandboxClient]:
    client = SandboxClient(live.base_url, live.sandbox_key)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def api(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def sandbox_http(live: LiveServer, sandbox: SandboxClient) -> Iterator[httpx.Client]:
    """Plain HTTP to the (reset) sandbox API with its key, to see the status codes of refusals."""
    with httpx.Client(
        base_url=live.base_url + "/sandbox/v1", headers={"X-Sandbox-Key": live.sandbox_key}, timeout=30
    ) as client:
        yield client


@pytest.fixture
def world(live: LiveServer, sandbox: SandboxClient, api: httpx.Client) -> World:
    return World(live, sandbox, api)
