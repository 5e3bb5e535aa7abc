"""pytest plugin for users of fastreg (``pytest -p fastreg.testing``, also registered as an entry point, so
installing fastreg is enough).

Fixtures:
- ``fastreg_server``: a live fastreg (sandbox mode) on a free local port with a fresh SQLite database
  (session-scoped); its ``base_url``, ``sandbox_key`` and ``platform``.
- ``fastreg_sandbox``: a :class:`SandboxClient` for the ``/sandbox/v1`` control API; the sandbox is reset
  (all accounts, tokens, mail and the clock wiped) before each test.
- ``fastreg_base_url``: the server's base URL. Point a WeChat client at it by changing only its base URL,
  e.g. with ``wechatpy``: ``WeChatComponent.API_BASE_URL = base + "/cgi-bin"`` and
  ``WeChatClient.API_BASE_URL = base + "/cgi-bin/"`` (or :func:`wechatpy_component`).
- ``fastreg_faults``: :class:`Faults`, to inject faults into the Open API for one test (an errcode instead of
  the answer, a delay, the call committed but its answer dropped or late); cleared after the test.
- ``fastreg_callback``: a :class:`CallbackServer`, a local HTTP server to use as a component's callback URL;
  it records every push fastreg delivers (encrypted exactly like WeChat's, so
  ``WeChatComponent.parse_message`` decrypts them) and answers ``success``.

Helpers: :func:`run_live_server` (your own server, e.g. on PostgreSQL), :func:`scan_url_from_page` (the URL
a fastregisterauth/componentloginpage QR code encodes, read from the page's ``img#scan-qr``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from fastreg.sandbox_client import SandboxAPIError, SandboxClient
from fastreg.settings import Settings, settings_from


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A fastreg server: one this process runs (``settings`` and ``app`` set), or one that runs elsewhere
    (``--fastreg-url``: only its URL and key are known)."""

    base_url: str
    sandbox_key: str
    settings: Settings | None = None
    app: Any = None

    @property
    def platform(self) -> Any:
        if self.app is None:
            raise RuntimeError(f"the fastreg server at {self.base_url} runs elsewhere: its platform is not here")
        return self.app.state.platform


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        pass


def run_live_server(
    settings: Settings, *, port: int | None = None, clock: Any = None, public_url: str | None = None
) -> tuple[LiveServer, Any]:
    """Migrate the database, start fastreg in a background thread; returns the server and a stopper.
    ``clock`` (a ``fastreg.domain.clock.Clock``) replaces the server's clock, e.g. a ``FixedClock`` the test
    moves (production mode has no settable clock of its own); ``public_url`` is the address the server
    believes it is reached at (default its own ``http://127.0.0.1:PORT``, e.g. an https one behind a proxy)."""
    from fastreg.adapters.db.migrate import upgrade
    from fastreg.web.app import create_app

    port = port or free_port()
    settings = settings.model_copy(update={"public_url": public_url or f"http://127.0.0.1:{port}"})
    upgrade(settings.database_url)
    app = create_app(settings, clock=clock)
    server = _ThreadedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fastreg test server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.platform.engine.dispose()

    live = LiveServer(f"http://127.0.0.1:{port}", settings.sandbox_key or "", settings, app)
    return live, stop


URL_VARIABLE, KEY_VARIABLE = "FASTREG_URL", "FASTREG_SANDBOX_KEY"
# The plugin's own server logs warnings and errors (a failed push, a 5xx with its traceback), not a line per
# request: those cost each call of a test a little, and the process's root logger stays off INFO (where every
# httpx and wechatpy call of the suite would log a line too).
PLUGIN_LOG_LEVEL = "WARNING"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fastreg", "fastreg (the WeChat fast-registration twin)")
    group.addoption(
        "--fastreg-url",
        dest="fastreg_url",
        default=None,
        help=f"use the fastreg server running at this URL instead of starting one (or {URL_VARIABLE})",
    )
    group.addoption(
        "--fastreg-key",
        dest="fastreg_key",
        default=None,
        help=f"the X-Sandbox-Key of the server given by --fastreg-url (or {KEY_VARIABLE})",
    )


def running_server(url: str, key: str) -> LiveServer:
    """A server that already runs, checked: it answers, in sandbox mode, and takes the key."""
    base_url = url.rstrip("/")
    client = SandboxClient(base_url, key)
    try:
        client.get_clock()
    except SandboxAPIError as refused:
        raise pytest.UsageError(f"the fastreg server at {base_url} refused the sandbox key: {refused}") from None
    except httpx.HTTPError as error:
        raise pytest.UsageError(f"no fastreg server answers at {base_url}: {error}") from None
    finally:
        client.close()
    return LiveServer(base_url, key)


@pytest.fixture(scope="session")
def fastreg_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The server the fixtures use: the one of ``--fastreg-url``/``FASTREG_URL``, or one of the session's own
    on a fresh SQLite database, configured by its defaults only (the caller's ``FASTREG_*`` variables and
    ``.env`` file are for the caller's own fastreg, not for this one)."""
    url = request.config.getoption("fastreg_url") or os.environ.get(URL_VARIABLE)
    if url:
        key = request.config.getoption("fastreg_key") or os.environ.get(KEY_VARIABLE)
        if not key:
            raise pytest.UsageError(f"--fastreg-url needs the server's sandbox key: --fastreg-key or {KEY_VARIABLE}")
        yield running_server(url, key)
        return
    data_dir: Path = tmp_path_factory.mktemp("fastreg")
    settings = settings_from(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}",
        data_dir=data_dir,
        sandbox_key="fastreg-test-key",
        log_level=PLUGIN_LOG_LEVEL,
    )
    # The server's start-up freezes the process's heap (modules, FastAPI, SQLAlchemy, pydantic: the app's
    # lifespan calls gc.freeze()), so a full collection no longer walks them all (one took about half a second).
    live, stop = run_live_server(settings)
    yield live
    stop()


class _SessionSandboxClient:
    """The session's client of a server: its connections stay open from test to test (a client per test cost a
    connection, a TLS context lookup and a scan of the environment for proxies, each time); a test that closed
    it gets a new one."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.client: SandboxClient | None = None

    def for_a_test(self) -> SandboxClient:
        if self.client is None or self.client.closed:
            self.client = SandboxClient(self.server.base_url, self.server.sandbox_key)
        else:
            self.client.forget_browser()
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


@pytest.fixture(scope="session")
def _fastreg_sandbox_clients(fastreg_server: LiveServer) -> Iterator[_SessionSandboxClient]:
    clients = _SessionSandboxClient(fastreg_server)
    yield clients
    clients.close()


@pytest.fixture
def fastreg_sandbox(_fastreg_sandbox_clients: _SessionSandboxClient) -> SandboxClient:
    """The sandbox, reset: no account, component, confirmation, mail, fault or clock of an earlier test."""
    client = _fastreg_sandbox_clients.for_a_test()
    client.reset()
    return client


@pytest.fixture
def fastreg_base_url(fastreg_server: LiveServer) -> str:
    return fastreg_server.base_url


class Faults:
    """Faults injected into the Open API for one test (the ``fastreg_faults`` fixture); cleared after it."""

    def __init__(self, sandbox: SandboxClient) -> None:
        self.sandbox = sandbox

    def add(self, path: str, **fields: Any) -> str:
        """Any fault (``appid``, ``times``, ``errcode``, ``http_status``, ``delay_ms``, ``after_commit``); its id."""
        fault_id: str = self.sandbox.add_fault(path, **fields)["id"]
        return fault_id

    def errcode(self, path: str, errcode: int, **fields: Any) -> str:
        """The call is not run; it answers ``errcode`` with WeChat's errmsg (e.g. -1, 45009, 45011, 61xxx)."""
        return self.add(path, errcode=errcode, **fields)

    def delay(self, path: str, delay_ms: int, **fields: Any) -> str:
        """The call runs ``delay_ms`` late."""
        return self.add(path, delay_ms=delay_ms, **fields)

    def drop(self, path: str, **fields: Any) -> str:
        """The call runs and commits, then the connection is closed without an answer (the client's timeout)."""
        return self.add(path, after_commit="drop", **fields)

    def timeout(self, path: str, delay_ms: int, **fields: Any) -> str:
        """The call runs and commits at once; its answer comes ``delay_ms`` later."""
        return self.add(path, after_commit="timeout", delay_ms=delay_ms, **fields)

    def list(self) -> Any:
        return self.sandbox.faults()

    def clear(self) -> None:
        self.sandbox.clear_faults()


@pytest.fixture
def fastreg_faults(fastreg_sandbox: SandboxClient) -> Iterator[Faults]:
    faults = Faults(fastreg_sandbox)
    yield faults
    faults.clear()


# ---------------------------------------------------------------- component callbacks


@dataclass(frozen=True)
class Push:
    """One POST fastreg made to a callback: WeChat's query parameters and the encrypted XML body."""

    path: str
    params: dict[str, str]
    body: str

    @property
    def msg_signature(self) -> str:
        return self.params.get("msg_signature", "")

    @property
    def timestamp(self) -> str:
        return self.params.get("timestamp", "")

    @property
    def nonce(self) -> str:
        return self.params.get("nonce", "")

    def parse(self, component: Any) -> Any:
        """Decrypt with a ``wechatpy`` ``WeChatComponent`` (``parse_message``)."""
        return component.parse_message(self.body, self.msg_signature, self.timestamp, self.nonce)


class CallbackServer:
    """A local HTTP server standing in for a component's callback URL. ``fail_next(n)`` makes it answer the
    next ``n`` pushes with HTTP 500 (to watch fastreg retry); ``reply`` is the body of its 200 answers
    (``success``, as WeChat's documentation asks of a callback)."""

    def __init__(self) -> None:
        import http.server

        self.pushes: list[Push] = []
        self.failures = 0
        self.reply = b"success"
        self._lock = threading.Condition()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # Keep-alive: the pushes of a test come on one connection (a connection and a thread each otherwise).
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                from urllib.parse import parse_qsl, urlsplit

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                parts = urlsplit(self.path)
                with owner._lock:
                    if owner.failures > 0:
                        owner.failures -= 1
                        status, answer = 500, b"busy"
                    else:
                        owner.pushes.append(Push(parts.path, dict(parse_qsl(parts.query)), body))
                        owner._lock.notify_all()
                        status, answer = 200, owner.reply
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/wechat/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self.failures = count

    def wait_for(self, count: int = 1, timeout: float = 15.0) -> list[Push]:
        """Block until at least ``count`` pushes arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.pushes) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} pushes, got {len(self.pushes)}")
                self._lock.wait(remaining)
            return list(self.pushes)

    def clear(self) -> None:
        with self._lock:
            self.pushes.clear()

    def close(self) -> None:
        """Stop at once: ``shutdown`` alone waits for the serving loop's next poll (half a second), so the
        listening socket is poked with connections until the loop has seen the request to stop."""
        stopper = threading.Thread(target=self._server.shutdown)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            stopper.join(0.005)
        self._server.server_close()


@pytest.fixture
def fastreg_callback() -> Iterator[CallbackServer]:
    server = CallbackServer()
    yield server
    server.close()


def wechatpy_component(base_url: str, component_appid: str, secret: str, token: str, encoding_aes_key: str) -> Any:
    """A ``wechatpy`` ``WeChatComponent`` talking to fastreg (only its base URLs changed)."""
    from wechatpy.component import WeChatComponent

    component = WeChatComponent(component_appid, secret, token, encoding_aes_key)
    component.API_BASE_URL = base_url + "/cgi-bin"
    component.PRE_AUTH_URL = base_url + "/cgi-bin/componentloginpage"
    return component


def scan_url_from_page(html: str) -> str:
    """The confirmation URL of a fastregisterauth/componentloginpage page (``img#scan-qr``'s
    ``data-confirmation-url``, the same URL its QR code encodes)."""
    import re
    from html import unescape

    tag = re.search(r"<img[^>]*id=\"scan-qr\"[^>]*>", html)
    found = re.search(r'data-confirmation-url="([^"]+)"', tag.group(0)) if tag else None
    if not found:
        refusal = re.search(r'data-errcode="(-?\d+)"', html)
        message = re.search(r'<p id="error-message">([^<]*)</p>', html)
        if refusal:
            shown = f" ({unescape(message.group(1))})" if message else ""
            raise ValueError(f"the page shows errcode {refusal.group(1)}{shown} instead of a QR code")
        raise ValueError("no img#scan-qr with a data-confirmation-url on this page")
    return unescape(found.group(1))
