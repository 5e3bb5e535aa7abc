"""Browser fixtures: Debian's Chromium driven by Playwright against a live fastreg (the ``fastreg_server``
fixture of ``fastreg.testing``): a desktop browser for the operator and a phone-sized one for the admin."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

CHROMIUM = os.environ.get("FASTREG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it is open, which
# other test modules' clients (anyio) must not see.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live fastreg on its own PostgreSQL database (dropped at the end)."""
    admin_url = make_url(os.environ.get("FASTREG_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    name = f"fastreg_console_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server
        if os.environ.get("FASTREG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    data_dir = tmp_path_factory.mktemp("fastreg-pg")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    live, stop = run_live_server(Settings(database_url=url, data_dir=data_dir, sandbox_key="fastreg-test-key"))
    yield live
    stop()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> LiveServer:
    """The live server (SQLite; ``parametrize("server", ["postgres"], indirect=True)`` for PostgreSQL)."""
    backend = getattr(request, "param", "sqlite")
    live: LiveServer = request.getfixturevalue("fastreg_server" if backend == "sqlite" else "postgres_server")
    return live


@pytest.fixture
def sandbox(server: LiveServer) -> Iterator[SandboxClient]:
    """The sandbox API of that server, its data reset for this test."""
    client = SandboxClient(server.base_url, server.sandbox_key)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def context(browser: Browser, server: LiveServer, sandbox: SandboxClient) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900}, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def phone(browser: Browser, server: LiveServer, sandbox: SandboxClient) -> Iterator[Page]:
    """A second browser: the admin's phone (375 px wide)."""
    ctx = browser.new_context(
        base_url=server.base_url, viewport={"width": 375, "height": 740}, is_mobile=True, locale="zh-CN"
    )
    ctx.set_default_timeout(15_000)
    yield ctx.new_page()
    ctx.close()
