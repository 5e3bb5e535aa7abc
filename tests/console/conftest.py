"""Browser fixtures: Debian's Chromium driven by Playwright against a live fastreg (the ``fastreg_server``
fixture of ``fastreg.testing``): a desktop browser for the operator and a phone-sized one for the admin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from fastreg.testing import LiveServer, SandboxClient

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
