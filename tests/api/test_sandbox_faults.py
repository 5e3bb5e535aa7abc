"""Fault injection (``/sandbox/v1/faults``) over real HTTP on SQLite and PostgreSQL: each kind of fault as the
Open API client sees it, what it leaves in the database, how many calls it hits, the refusals of the control
route, and that every worker of a server agrees on the faults."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from fastreg.testing import Faults, LiveServer, SandboxAPIError, SandboxClient, run_live_server
from tests.api.world import OA, Component, World

FASTREGISTER = "/cgi-bin/account/fastregister"
TOKEN = "/cgi-bin/token"


@pytest.fixture
def faults(sandbox: SandboxClient) -> Faults:
    return Faults(sandbox)


def registration_ready(world: World) -> tuple[OA, Component, str, str]:
    """An OA authorized to a component, and the admin's confirmed ticket: what account/fastregister needs."""
    oa, component = world.oa(), world.component()
    token = world.authorize(component, oa)
    return oa, component, token, world.ticket(component, oa)


def account_token(world: World, oa: OA) -> httpx.Response:
    return world.api.get(TOKEN, params={"grant_type": "client_credential", "appid": oa.appid, "secret": oa.secret})


def quota_used(world: World, oa: OA) -> int:
    used: int = world.oa_state(oa)["quota"]["used"]
    return used


# ---------------------------------------------------------------- errcode and http_status: the call is not run


@pytest.mark.parametrize(
    ("errcode", "errmsg"),
    [
        (-1, "system error"),
        (45009, "reach max api daily quota limit"),
        (45011, "api minute-quota reach limit, must slower, retry next minute"),
        (61058, None),  # the catalogue's text for it (domain.errors)
    ],
)
def test_errcode_fault_answers_wechats_errmsg_without_running_the_call(
    world: World, faults: Faults, errcode: int, errmsg: str | None
) -> None:
    from fastreg.domain.errors import Err

    oa, _, token, ticket = registration_ready(world)
    faults.errcode(FASTREGISTER, errcode)

    refused = world.fastregister(token, ticket)

    expected = errmsg if errmsg is not None else Err.SCAN_INVALID.value.errmsg
    assert refused["errcode"] == errcode and refused["errmsg"].startswith(expected), refused
    assert set(refused) <= {"errcode", "errmsg"}
    assert quota_used(world, oa) == 0  # nothing ran: no MP, the ticket still good
    registered = world.fastregister(token, ticket)
    assert registered["errcode"] == 0 and registered["appid"]
    assert quota_used(world, oa) == 1
    [fault] = faults.list()
    assert (fault["times"], fault["remaining"]) == (1, 0)


def test_http_status_fault_answers_that_status(world: World, faults: Faults) -> None:
    oa = world.oa()
    faults.add(TOKEN, http_status=503)
    faults.add(TOKEN, http_status=429, errcode=45011)

    first, second, third = account_token(world, oa), account_token(world, oa), account_token(world, oa)

    assert first.status_code == 503 and first.json()["errcode"] == -1
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    assert second.status_code == 429 and second.json()["errcode"] == 45011
    assert third.status_code == 200 and third.json()["access_token"]


def test_a_fault_hits_only_its_path_its_appid_and_its_times(world: World, faults: Faults) -> None:
    target, other = world.oa(), world.oa()
    faults.errcode(TOKEN, 45009, appid=target.appid, times=2)
    faults.errcode("/cgi-bin/component/api_component_token", -1)

    assert account_token(world, other).json()["errcode"] == 0  # another account
    assert [account_token(world, target).json()["errcode"] for _ in range(3)] == [45009, 45009, 0]
    by_path = {fault["path"]: fault["remaining"] for fault in faults.list()}
    assert by_path == {TOKEN: 0, "/cgi-bin/component/api_component_token": 1}


def test_appid_matches_the_account_behind_the_access_token(world: World, faults: Faults) -> None:
    oa, _, token, ticket = registration_ready(world)
    faults.errcode(FASTREGISTER, 45011, appid=world.oa().appid)  # another OA: not this call
    faults.errcode(FASTREGISTER, 45009, appid=oa.appid)

    assert world.fastregister(token, ticket)["errcode"] == 45009
    assert world.fastregister(token, ticket)["errcode"] == 0


def test_appid_matches_an_appid_named_in_the_body(world: World, faults: Faults) -> None:
    component = world.component(token=False)
    faults.errcode("/cgi-bin/component/api_component_token", -1, appid=component.appid)
    body = {
        "component_appid": component.appid,
        "component_appsecret": component.secret,
        "component_verify_ticket": component.verify_ticket,
    }

    refused = world.post("/cgi-bin/component/api_component_token", body)

    assert refused["errcode"] == -1 and refused["errmsg"].startswith("system error")
    assert world.component_token(component)  # the next call runs (the route reads the body the layer read)


# ---------------------------------------------------------------- delays and withheld answers


def test_delay_holds_the_call_before_it_runs(world: World, faults: Faults) -> None:
    oa = world.oa()
    faults.delay(TOKEN, 400)

    started = time.perf_counter()
    answer = account_token(world, oa)
    elapsed = time.perf_counter() - started

    assert answer.json()["access_token"] and elapsed >= 0.4


def test_timeout_commits_at_once_and_answers_after_the_delay(world: World, faults: Faults) -> None:
    oa, _, token, ticket = registration_ready(world)
    faults.timeout(FASTREGISTER, 3000)

    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        world.api.post(FASTREGISTER, params={"access_token": token}, json={"ticket": ticket}, timeout=0.8)

    # The client gave up; the registration was already committed (long before the answer's 3 s).
    assert quota_used(world, oa) == 1 and time.perf_counter() - started < 2.5
    [linked] = world.oa_state(oa)["linked_mini_programs"]
    retried = world.fastregister(token, ticket)
    assert retried["errcode"] == 61058 and linked["appid"]


def test_timeout_answers_the_committed_result_to_a_patient_client(world: World, faults: Faults) -> None:
    oa, _, token, ticket = registration_ready(world)
    faults.timeout(FASTREGISTER, 300)

    started = time.perf_counter()
    answer = world.fastregister(token, ticket)

    assert time.perf_counter() - started >= 0.3
    assert answer["errcode"] == 0 and answer["appid"] == world.oa_state(oa)["linked_mini_programs"][0]["appid"]


def test_drop_commits_the_call_then_closes_without_an_answer(world: World, faults: Faults) -> None:
    oa, _, token, ticket = registration_ready(world)
    faults.drop(FASTREGISTER)

    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        world.api.post(FASTREGISTER, params={"access_token": token}, json={"ticket": ticket})

    [mp] = world.oa_state(oa)["linked_mini_programs"]
    assert quota_used(world, oa) == 1
    retried = world.fastregister(token, ticket)
    assert retried["errcode"] == 61058  # the ticket was spent by the dropped call
    items = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)["wxopens"]["items"]
    assert [item["appid"] for item in items] == [mp["appid"]]
    assert world.get("/healthz") == {"status": "ok"}  # the server goes on answering


def test_a_dropped_refusal_changes_nothing(world: World, faults: Faults) -> None:
    oa = world.oa()
    faults.drop(TOKEN, appid=oa.appid)
    with pytest.raises(httpx.RemoteProtocolError):
        world.api.get(TOKEN, params={"grant_type": "client_credential", "appid": oa.appid, "secret": "wrong"})
    assert account_token(world, oa).json()["errcode"] == 0


# ---------------------------------------------------------------- the control routes


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"path": "/cgi-bin/account/fastRegister", "errcode": -1}, "no Open API route"),
        ({"path": FASTREGISTER, "errcode": 12345}, "errcode 12345"),
        ({"path": FASTREGISTER, "errcode": 91002}, "errcode 91002"),  # fastreg's own console codes
        ({"path": FASTREGISTER}, "at least one of"),
        ({"path": FASTREGISTER, "errcode": -1, "after_commit": "drop"}, "excludes errcode"),
        ({"path": FASTREGISTER, "after_commit": "timeout"}, "give delay_ms"),
        ({"path": FASTREGISTER, "after_commit": "later"}, "after_commit"),
        ({"path": FASTREGISTER, "errcode": -1, "times": 0}, "times"),
        ({"path": FASTREGISTER, "delay_ms": -5}, "delay_ms"),
        ({"path": FASTREGISTER, "http_status": 99}, "http_status"),
        ({"path": FASTREGISTER, "errcode": -1, "colour": "red"}, "colour"),
    ],
)
def test_bad_faults_are_refused_and_nothing_is_armed(
    sandbox: SandboxClient, body: dict[str, Any], fragment: str
) -> None:
    response = sandbox.http.post("/faults", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert fragment in response.json()["error"]["message"]
    assert sandbox.faults() == []


def test_the_client_raises_the_servers_error_code_and_message(sandbox: SandboxClient) -> None:
    with pytest.raises(SandboxAPIError) as refused:
        sandbox.add_fault(FASTREGISTER, errcode=12345)
    assert refused.value.status == 422 and refused.value.code == "invalid_request"
    assert "errcode 12345" in refused.value.message and "errcode 12345" in str(refused.value)
    with pytest.raises(SandboxAPIError) as missing:
        sandbox.delete_fault("nope")
    assert (missing.value.status, missing.value.code) == (404, "not_found")


def test_list_delete_one_delete_all_and_reset(sandbox: SandboxClient, faults: Faults) -> None:
    first = sandbox.add_fault(FASTREGISTER, errcode=45009, times=3, appid="wx0123456789abcdef")
    assert set(first) == {
        "id",
        "path",
        "appid",
        "times",
        "remaining",
        "errcode",
        "http_status",
        "delay_ms",
        "after_commit",
        "created_at",
    }
    second = faults.drop(FASTREGISTER)
    third = faults.timeout(TOKEN, 500)
    assert [fault["id"] for fault in faults.list()] == [first["id"], second, third]  # oldest first

    assert sandbox.delete_fault(second) == {"deleted": 1}
    assert [fault["id"] for fault in faults.list()] == [first["id"], third]
    assert sandbox.clear_faults() == {"deleted": 2} and faults.list() == []

    faults.errcode(TOKEN, -1)
    sandbox.reset()
    assert faults.list() == []


def test_every_worker_of_a_server_sees_the_faults(live: LiveServer, world: World, faults: Faults) -> None:
    """Two servers on one database (as ``fastreg serve --workers 2``): a fault armed through one fires on the
    other, and the times are counted once across both."""
    assert live.settings is not None
    other, stop = run_live_server(live.settings)
    try:
        oa = world.oa()
        faults.errcode(TOKEN, 45009, times=2)
        params = {"grant_type": "client_credential", "appid": oa.appid, "secret": oa.secret}
        with httpx.Client(base_url=other.base_url, timeout=30) as second:
            answers = [
                second.get(TOKEN, params=params).json()["errcode"],
                account_token(world, oa).json()["errcode"],
                second.get(TOKEN, params=params).json()["errcode"],
            ]
    finally:
        stop()
    assert answers == [45009, 45009, 0]


def test_concurrent_calls_never_take_more_than_times(world: World, faults: Faults) -> None:
    import concurrent.futures

    oa = world.oa()
    faults.errcode(TOKEN, 45011, times=5)
    params = {"grant_type": "client_credential", "appid": oa.appid, "secret": oa.secret}

    def call(_: int) -> int:
        with httpx.Client(base_url=world.live.base_url, timeout=30) as client:
            errcode: int = client.get(TOKEN, params=params).json()["errcode"]
            return errcode

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(20)))
    assert sorted(answers) == [0] * 15 + [45011] * 5
