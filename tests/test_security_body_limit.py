"""Request bodies over 1 MiB are refused with 413 before any route reads them, and stalled ones time out with
408, over real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from fastreg.settings import Settings
from fastreg.testing import LiveServer, run_live_server
from tests.pg import temporary_database

LIMIT = 1024 * 1024


@pytest.fixture
def http(fastreg_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fastreg_server.base_url, timeout=30) as client:
        yield client


def sandbox_headers(server: LiveServer) -> dict[str, str]:
    return {"X-Sandbox-Key": server.sandbox_key}


@pytest.mark.parametrize(
    "path",
    ["/cgi-bin/account/fastregister?access_token=x", "/cgi-bin/component/api_component_token", "/login"],
)
def test_announced_oversized_body_is_refused_in_the_wechat_dialect(http: httpx.Client, path: str) -> None:
    response = http.post(path, content=b"{" + b" " * LIMIT + b"}")
    assert response.status_code == 413
    rid = response.headers["x-request-id"]
    assert rid and response.json() == {"errcode": 45002, "errmsg": f"content size out of limit rid: {rid}"}


def test_oversized_body_is_refused_in_the_sandbox_dialect(http: httpx.Client, fastreg_server: LiveServer) -> None:
    response = http.post(
        "/sandbox/v1/official-accounts", content=b"x" * (LIMIT + 1), headers=sandbox_headers(fastreg_server)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_chunked_oversized_body_is_refused_while_being_read(http: httpx.Client, fastreg_server: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * 65536  # 1.25 MiB in all, without a Content-Length

    try:
        response = http.post(
            "/sandbox/v1/official-accounts",
            content=chunks(),
            headers={**sandbox_headers(fastreg_server), "Content-Type": "application/json"},
        )
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_body_of_exactly_the_limit_reaches_the_route(http: httpx.Client, fastreg_server: LiveServer) -> None:
    # Exactly 1 MiB is allowed: the route itself answers (here: the body is not valid JSON).
    body = b"{" + b" " * (LIMIT - 2) + b"}"
    assert len(body) == LIMIT
    response = http.post(
        "/sandbox/v1/official-accounts",
        content=body,
        headers={**sandbox_headers(fastreg_server), "Content-Type": "application/json"},
    )
    assert response.status_code != 413
    assert response.status_code in (400, 422)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def impatient_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose body time-out is one second."""
    data_dir = tmp_path_factory.mktemp(f"fastreg-impatient-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'fastreg.db'}"
        else:
            url = stack.enter_context(temporary_database("fastreg_impatient"))
        settings = Settings(database_url=url, data_dir=data_dir, sandbox_key="k", body_timeout_seconds=1)
        live, stop = run_live_server(settings)
        stack.callback(stop)
        yield live


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/cgi-bin/component/api_component_token", b'"errcode":-1'),
        ("/sandbox/v1/official-accounts", b'"code":"request_timeout"'),
        ("/login", b'"errcode":-1'),
    ],
)
def test_a_stalled_body_times_out(impatient_server: LiveServer, path: str, expected: bytes) -> None:
    """A client announces 100 bytes, sends one and stalls: 408 after the time-out, and the connection closes."""
    url = httpx.URL(impatient_server.base_url)
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {url.host}\r\nX-Sandbox-Key: k\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
        )
        conn.sendall(head.encode() + b"{")
        started = time.monotonic()
        answer = b""
        try:
            while chunk := conn.recv(65536):  # until the server closes the connection
                answer += chunk
        except TimeoutError:
            pytest.fail(f"no answer to a stalled body within 10 s: {answer!r}")
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert expected in answer
    assert time.monotonic() - started < 5
