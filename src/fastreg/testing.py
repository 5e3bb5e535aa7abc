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
- ``fastreg_callback``: a :class:`CallbackServer`, a local HTTP server to use as a component's callback URL;
  it records every push fastreg delivers (encrypted exactly like WeChat's, so
  ``WeChatComponent.parse_message`` decrypts them) and answers ``success``.

Helpers: :func:`run_live_server` (your own server, e.g. on PostgreSQL), :func:`scan_url_from_page` (the URL
a fastregisterauth/componentloginpage QR code encodes, read from the page's ``img#scan-qr``).
"""

from __future__ import annotations

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

from fastreg.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    sandbox_key: str
    settings: Settings
    app: Any

    @property
    def platform(self) -> Any:
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


class SandboxClient:
    """Thin client of the sandbox control API (``/sandbox/v1``)."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/sandbox/v1", headers={"X-Sandbox-Key": key}, timeout=30)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def reset(self) -> Any:
        return self._call("POST", "/reset")

    def create_official_account(self, **fields: Any) -> Any:
        return self._call("POST", "/official-accounts", json=fields)

    def official_account(self, appid: str) -> Any:
        return self._call("GET", f"/official-accounts/{appid}")

    def create_component(self, **fields: Any) -> Any:
        return self._call("POST", "/components", json=fields)

    def authorize(self, component_appid: str, authorizer_appid: str) -> Any:
        return self._call(
            "POST", f"/components/{component_appid}/authorizations", json={"authorizer_appid": authorizer_appid}
        )

    def confirmations(self, wxid: str, status: str = "pending") -> Any:
        return self._call("GET", "/confirmations", params={"wxid": wxid, "status": status})

    def scan(self, url: str, wxid: str, action: str = "confirm") -> Any:
        return self._call("POST", "/scans", json={"url": url, "wxid": wxid, "action": action})

    def mail(self, to: str | None = None) -> Any:
        return self._call("GET", "/mail", params={"to": to} if to else None)

    def set_clock(self, **body: Any) -> Any:
        return self._call("PUT", "/clock", json=body)

    def mini_program(self, appid: str) -> Any:
        return self._call("GET", f"/mini-programs/{appid}")

    def issue_verify_ticket(self, component_appid: str) -> str:
        """A fresh component_verify_ticket (pushed to the component's callback URL when it has one)."""
        ticket: str = self._call("POST", f"/components/{component_appid}/verify-ticket")["component_verify_ticket"]
        return ticket

    def answer(self, confirmation_id: str, wxid: str, action: str = "confirm") -> Any:
        return self._call("POST", f"/confirmations/{confirmation_id}", json={"wxid": wxid, "action": action})

    def set_blacklisted(self, principal_name: str, blacklisted: bool = True) -> Any:
        return self._call("PATCH", f"/principals/{principal_name}", json={"blacklisted": blacklisted})

    def add_personal_wechat_email(self, email: str) -> Any:
        return self._call("POST", "/personal-wechat-emails", json={"email": email})

    def audit(self, appid: str | None = None) -> Any:
        return self._call("GET", "/audit", params={"appid": appid} if appid else None)

    def close(self) -> None:
        self.http.close()


@pytest.fixture(scope="session")
def fastreg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fastreg")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}", data_dir=data_dir, sandbox_key="fastreg-test-key"
    )
    live, stop = run_live_server(settings)
    yield live
    stop()


@pytest.fixture
def fastreg_sandbox(fastreg_server: LiveServer) -> Iterator[SandboxClient]:
    client = SandboxClient(fastreg_server.base_url, fastreg_server.sandbox_key)
    client.reset()
    yield client
    client.close()


@pytest.fixture
def fastreg_base_url(fastreg_server: LiveServer) -> str:
    return fastreg_server.base_url


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
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/wechat/callback"
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
        self._server.shutdown()
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
        raise ValueError("no img#scan-qr with a data-confirmation-url on this page")
    return unescape(found.group(1))
