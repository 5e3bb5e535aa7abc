"""pytest plugin for users of fastreg (``pytest -p fastreg.testing``, also registered as an entry point).

Fixtures:
- ``fastreg_server``: a live fastreg (sandbox mode) on a free local port with a fresh SQLite database;
  its ``base_url``, ``sandbox_key`` and ``platform``.
- ``fastreg_sandbox``: a :class:`SandboxClient` for the ``/sandbox/v1`` control API.
- ``fastreg_base_url``: the base URL to point a WeChat client at (e.g. wechatpy's ``API_BASE_URL``).
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


def run_live_server(settings: Settings, *, port: int | None = None) -> tuple[LiveServer, Any]:
    """Migrate the database, start fastreg in a background thread; returns the server and a stopper."""
    from fastreg.adapters.db.migrate import upgrade
    from fastreg.web.app import create_app

    port = port or free_port()
    settings = settings.model_copy(update={"public_url": f"http://127.0.0.1:{port}"})
    upgrade(settings.database_url)
    app = create_app(settings)
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
