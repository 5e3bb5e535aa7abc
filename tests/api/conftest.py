"""Fixtures of the Open API tests: live fastreg servers (SQLite and PostgreSQL) driven over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fastreg.testing import LiveServer, SandboxClient
from tests.api.world import World


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
