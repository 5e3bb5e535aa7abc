"""A bad clock value or a far date is refused (422) and breaks nothing: the sandbox clock stays where it was and
every request that reads it keeps working; an Official Account certified "until 9999" cannot be created."""

from __future__ import annotations

import httpx
import pytest

from fastreg.testing import LiveServer
from tests.api.world import World
from tests.console.helpers import PASSWORD
from tests.console.test_http import log_in


def clock_still_works(world: World, sandbox_http: httpx.Client, expected_now: str) -> None:
    clock = sandbox_http.get("/clock")
    assert clock.status_code == 200 and clock.json()["now"] == expected_now
    oa = world.oa()
    answer = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    assert answer["errcode"] == 0, answer


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"advance_seconds": NaN}', 400),
        (b'{"advance_seconds": Infinity}', 400),
        (b'{"advance_seconds": "NaN"}', 422),
        (b'{"advance_seconds": "-inf"}', 422),
        (b'{"advance_seconds": 1e400}', 422),
        (b'{"advance_seconds": -1e400}', 422),
        (b'{"advance_seconds": 1e30}', 422),
        (b'{"advance_seconds": -1e30}', 422),
        (b'{"advance_seconds": 3000000000}', 422),  # 2026 + 95 years: past 2100
        (b'{"now": "9999-12-31T23:59:59Z"}', 422),
        (b'{"now": "1970-01-01T00:00:00Z"}', 422),
    ],
)
def test_out_of_range_clock_settings_are_refused_and_change_nothing(
    world: World, sandbox_http: httpx.Client, body: bytes, status: int
) -> None:
    frozen = sandbox_http.put("/clock", json={"now": "2026-11-30T16:00:00Z"})
    assert frozen.status_code == 200
    before = frozen.json()["now"]
    response = sandbox_http.put("/clock", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == ("invalid_json" if status == 400 else "invalid_request")
    clock_still_works(world, sandbox_http, before)


def test_a_running_clock_cannot_be_moved_out_of_range_either(world: World, sandbox_http: httpx.Client) -> None:
    assert sandbox_http.put("/clock", json={"real": True}).status_code == 200
    assert sandbox_http.put("/clock", json={"advance_seconds": 1e12}).status_code == 422
    assert sandbox_http.put("/clock", json={"advance_seconds": 3600}).status_code == 200
    assert not sandbox_http.get("/clock").json()["frozen"]
    oa = world.oa()
    assert world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)["errcode"] == 0


def test_the_edges_of_the_range_are_accepted(world: World, sandbox_http: httpx.Client) -> None:
    assert sandbox_http.put("/clock", json={"now": "2099-12-31T00:00:00Z"}).status_code == 200
    assert sandbox_http.put("/clock", json={"advance_seconds": 86399}).status_code == 200
    assert sandbox_http.put("/clock", json={"advance_seconds": 1}).status_code == 422
    clock_still_works(world, sandbox_http, "2099-12-31T23:59:59Z")


def test_an_oa_certified_until_9999_is_refused_and_one_until_2099_has_a_console(
    live: LiveServer, sandbox_http: httpx.Client
) -> None:
    fields = {"name": "远期公众号", "principal_name": "远期有限公司", "principal_type": "enterprise"}
    refused = sandbox_http.post("/official-accounts", json={**fields, "verify_expires_at": "9999-12-31T23:59:59Z"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "invalid_request"
    assert "verify_expires_at" in refused.json()["error"]["message"]
    created = sandbox_http.post(
        "/official-accounts",
        json={**fields, "verify_expires_at": "2099-12-31T23:59:59Z", "operator_password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30) as console:
        assert log_in(console, created.json()["operator_email"], PASSWORD).status_code == 303
        home = console.get("/oa")
        assert home.status_code == 200
        assert "2100-01-01" in home.text  # 2099-12-31 23:59:59 UTC, shown in Beijing time
