"""Request bodies over 1 MiB are refused with 413 before any route reads them, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fastreg.testing import LiveServer

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
