"""Fixtures of the Open API tests: live fastreg servers (SQLite and PostgreSQL) driven over real HTTP."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.api.world import World

POSTGRES_URL = os.environ.get("FASTREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live fastreg on its own PostgreSQL database (created for this run, dropped afterwards)."""
    admin_url = make_url(POSTGRES_URL)
    name = f"fastreg_api_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server
        if os.environ.get("FASTREG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    data_dir: Path = tmp_path_factory.mktemp("fastreg-pg")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    live, stop = run_live_server(Settings(database_url=url, data_dir=data_dir, sandbox_key="fastreg-test-key"))
    yield live
    stop()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
def world(live: LiveServer, sandbox: SandboxClient, api: httpx.Client) -> World:
    return World(live, sandbox, api)
