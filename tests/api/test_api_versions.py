"""Platform versions (fidelity.md §3) over real HTTP: the sandbox's setting, fast registration under each
version, and 代认证 (wxa/sec/wxaauth → the MP admin's auth_url → the sandbox's review → pushes → certified)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from fastreg.adapters import wechat_crypto
from fastreg.settings import Settings
from fastreg.testing import CallbackServer, LiveServer, Push, SandboxClient, run_live_server
from tests.api.test_api_pushes import wechatpy_for
from tests.api.world import OA, Component, World

V2021, V2023 = "2021-06-01", "2023-12-25"
NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
AUTH_DATA = {
    "customer_type": 1,
    "contact_info": {"name": "张三", "email": "zhangsan@example.com"},
    "invoice_info": {"invoice_type": 1},
    "account_name": "代认证测试小程序",
    "account_name_type": 1,
    "pay_type": 1,
}


def version_call(sandbox: SandboxClient, method: str, body: Any = None) -> httpx.Response:
    return sandbox.http.request(method, "/platform-version", json=body)


def set_version(world: World, version: str) -> None:
    answer = version_call(world.sandbox, "PUT", {"version": version})
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == version


def review(world: World, taskid: str, action: str, reason: str | None = None) -> httpx.Response:
    body = {"action": action} if reason is None else {"action": action, "reason": reason}
    return world.sandbox.http.post(f"/verification-tasks/{taskid}", json=body)


def register(world: World, component: Component, oa: OA, copy_wx_verify: int = 1) -> dict[str, Any]:
    token = world.authorize(component, oa)
    answer = world.fastregister(token, world.ticket(component, oa, copy_wx_verify))
    assert answer["errcode"] == 0, answer
    return answer


def mp_token(world: World, component: Component, registered: dict[str, Any]) -> str:
    """The new MP's authorizer token, from the authorization code fastregister answered."""
    return str(world.query_auth(component, registered["authorization_code"])["authorizer_access_token"])


def basic_info(world: World, token: str) -> dict[str, Any]:
    answer: dict[str, Any] = world.get("/cgi-bin/account/getaccountbasicinfo", access_token=token)
    assert answer["errcode"] == 0, answer
    return answer


def wxaauth(world: World, token: str | None, body: Any = None) -> dict[str, Any]:
    params = {"access_token": token} if token is not None else {}
    sent = {"auth_data": AUTH_DATA} if body is None else body
    answer: dict[str, Any] = world.post("/wxa/sec/wxaauth", sent, **params)
    return answer


def queryauth(world: World, token: str, taskid: str) -> dict[str, Any]:
    answer: dict[str, Any] = world.post("/wxa/sec/queryauth", {"taskid": taskid}, access_token=token)
    assert answer["errcode"] == 0, answer
    return answer


WXA_EVENTS = ("notify_3rd_wxa_auth", "notify_3rd_wxa_wxverify")


def plain(push: Push, component: Component) -> str:
    encrypted = wechat_crypto.EncryptedPush(push.body, push.timestamp, push.nonce, push.msg_signature)
    return wechat_crypto.decrypt_push(
        token=component.token, encoding_aes_key=component.encoding_aes_key, appid=component.appid, push=encrypted
    )


def wxa_events(world: World, component: Component, callback: CallbackServer, count: int) -> list[dict[str, Any]]:
    """The first ``count`` 代认证 pushes (other pushes ignored), decrypted by wechatpy (which has no class for
    these events: their raw data)."""
    client = wechatpy_for(world, component)
    client.session.set("component_verify_ticket", component.verify_ticket)
    events: list[dict[str, Any]] = []
    seen = 0
    while len(events) < count:
        arrived = callback.wait_for(seen + 1)
        for push in arrived[seen:]:
            if any(f"<![CDATA[{kind}]]>" in plain(push, component) for kind in WXA_EVENTS):
                events.append(push.parse(client)._data)
        seen = len(arrived)
    return events[:count]


# ---------------------------------------------------------------- the sandbox's setting


def test_version_defaults_switches_per_sandbox_and_reset_restores_the_default(sandbox: SandboxClient) -> None:
    assert version_call(sandbox, "GET").json() == {"version": V2021, "default": V2021}
    changed = version_call(sandbox, "PUT", {"version": V2023})
    assert changed.status_code == 200 and changed.json() == {"version": V2023, "default": V2021}
    assert version_call(sandbox, "GET").json()["version"] == V2023
    sandbox.reset()
    assert version_call(sandbox, "GET").json() == {"version": V2021, "default": V2021}


@pytest.mark.parametrize("version", ["2022-01-01", "2023-12-24", "latest", " "])
def test_an_unknown_version_is_refused_with_422_and_changes_nothing(sandbox: SandboxClient, version: str) -> None:
    version_call(sandbox, "PUT", {"version": V2023})
    refused = version_call(sandbox, "PUT", {"version": version})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] in ("unknown_version", "invalid_request")
    if version.strip():
        assert error["code"] == "unknown_version" and "2021-06-01, 2023-12-25" in error["message"]
    assert version_call(sandbox, "GET").json()["version"] == V2023


def test_the_version_routes_need_the_sandbox_key(live: LiveServer) -> None:
    with httpx.Client(base_url=live.base_url) as client:
        answer = client.put("/sandbox/v1/platform-version", json={"version": V2023})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


def test_an_unknown_configured_version_is_refused_at_start() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(platform_version="2024-01-01")
    assert "FASTREG_PLATFORM_VERSION" in str(refused.value) and "2021-06-01, 2023-12-25" in str(refused.value)
    assert Settings(platform_version=V2023).platform_version == V2023


# ---------------------------------------------------------------- fast registration under each version


def test_2021_06_01_certifies_at_once_with_the_oas_expiry(world: World) -> None:
    expiry = "2027-06-30T16:00:00Z"
    component, oa = world.component(), world.oa(verify_expires_at=expiry)
    registered = register(world, component, oa)
    assert registered["is_wx_verify_succ"] == "true"
    mp = world.sandbox.mini_program(registered["appid"])
    assert mp["certified"] is True and mp["certified_until"] == expiry
    assert basic_info(world, mp_token(world, component, registered))["wx_verify_info"]["qualification_verify"] is True


@pytest.mark.parametrize("copy_wx_verify", [1, 0])
def test_2023_12_25_registers_the_mp_uncertified_whatever_copy_wx_verify_says(
    world: World, copy_wx_verify: int
) -> None:
    set_version(world, V2023)
    component, oa = world.component(), world.oa()
    registered = register(world, component, oa, copy_wx_verify)
    assert registered["is_wx_verify_succ"] == "false" and registered["is_link_succ"] == "true"
    mp = world.sandbox.mini_program(registered["appid"])
    assert mp["certified"] is False and mp["certified_until"] is None
    assert mp["linked_oa"] == oa.appid and mp["linked_via"] == "fast_register"
    info = basic_info(world, mp_token(world, component, registered))
    assert info["wx_verify_info"]["qualification_verify"] is False
    assert world.oa_state(oa)["quota"]["used"] == 1


@pytest.mark.parametrize("version", [V2021, V2023])
def test_the_seeds_rules_hold_on_both_versions(world: World, version: str) -> None:
    set_version(world, version)
    component = world.component()
    # Government, media and other organisations must still choose copy_wx_verify=1 (61056).
    government = world.oa(principal_type="government")
    token = world.authorize(component, government)
    refused = world.fastregister(token, world.ticket(component, government, copy_wx_verify=0))
    assert refused["errcode"] == 61056
    # An individual business still fast-registers one MP a month (61055 for the second).
    shop = world.oa(principal_type="individual_business")
    register(world, component, shop)
    token = world.authorize(component, shop)
    assert world.fastregister(token, world.ticket(component, shop))["errcode"] == 61055
    quota = world.oa_state(shop)["quota"]
    assert (quota["used"], quota["remaining"]) == (1, 0)


# ---------------------------------------------------------------- 代认证


@pytest.fixture
def uncertified(world: World, fastreg_callback: CallbackServer) -> Iterator[tuple[Component, dict[str, Any], str]]:
    """Under 2023-12-25 on a frozen clock: a component with a callback, a fast-registered (uncertified) MP and
    the component's token for it."""
    world.sandbox.set_clock(now=NOW.isoformat())
    set_version(world, V2023)
    component = world.component(callback_url=fastreg_callback.url)
    oa = world.oa()
    registered = register(world, component, oa)
    yield component, registered, mp_token(world, component, registered)


def submit_and_authorize(world: World, token: str, admin_wxid: str) -> str:
    submitted = wxaauth(world, token)
    assert submitted["errcode"] == 0 and submitted["errmsg"] == "ok", submitted
    taskid, auth_url = submitted["taskid"], submitted["auth_url"]
    waiting = queryauth(world, token, taskid)
    assert (waiting["task_status"], waiting["apply_status"], waiting["auth_url"]) == (0, 0, auth_url)
    # The MP admin opens auth_url (a phone confirmation page) and authorizes the application.
    page = world.api.get(auth_url)
    assert page.status_code == 200 and "小程序微信认证" in page.text and admin_wxid in page.text
    assert world.sandbox.scan(auth_url, admin_wxid)["status"] == "confirmed"
    reviewing = queryauth(world, token, taskid)
    assert (reviewing["task_status"], reviewing["apply_status"]) == (12, 2) and reviewing["orderid"] > 0
    assert "auth_url" not in reviewing
    return str(taskid)


def test_approved_verification_certifies_the_mp_and_pushes_both_events(
    world: World, fastreg_callback: CallbackServer, uncertified: tuple[Component, dict[str, Any], str]
) -> None:
    component, registered, token = uncertified
    appid = registered["appid"]
    admin = world.sandbox.mini_program(appid)["admin_wxid"]
    taskid = submit_and_authorize(world, token, admin)
    (dispatched,) = wxa_events(world, component, fastreg_callback, 1)
    assert dispatched["InfoType"] == "notify_3rd_wxa_auth" and dispatched["appid"] == appid
    assert (dispatched["taskid"], dispatched["task_status"], dispatched["apply_status"]) == (taskid, "12", "2")
    assert dispatched["dispatch_info"]["provider"] and dispatched["dispatch_info"]["dispatch_time"]
    assert world.sandbox.mini_program(appid)["certified"] is False

    approved = review(world, taskid, "approve")
    assert approved.status_code == 200 and approved.json()["apply_status"] == 4
    until = NOW + timedelta(days=365)
    mp = world.sandbox.mini_program(appid)
    assert mp["certified"] is True and mp["certified_until"] == until.isoformat().replace("+00:00", "Z")
    assert basic_info(world, token)["wx_verify_info"]["qualification_verify"] is True
    done = queryauth(world, token, taskid)
    assert (done["task_status"], done["apply_status"]) == (12, 4)

    # The two pushes of the approval are queued together: their order of delivery is not pinned.
    after = {event["InfoType"]: event for event in wxa_events(world, component, fastreg_callback, 3)[1:]}
    auth_event, wxverify = after["notify_3rd_wxa_auth"], after["notify_3rd_wxa_wxverify"]
    assert auth_event["InfoType"] == "notify_3rd_wxa_auth" and auth_event["apply_status"] == "4"
    assert wxverify["InfoType"] == "notify_3rd_wxa_wxverify" and wxverify["appid"] == appid
    assert wxverify["expired"] == str(int(until.timestamp())) and wxverify["message"]
    # The order is answered: a second answer is refused and changes nothing.
    again = review(world, taskid, "reject", "too late")
    assert again.status_code == 409 and again.json()["error"]["code"] == "task_not_under_review"
    assert world.sandbox.mini_program(appid)["certified"] is True


def test_rejected_verification_leaves_the_mp_uncertified_with_the_reason(
    world: World, fastreg_callback: CallbackServer, uncertified: tuple[Component, dict[str, Any], str]
) -> None:
    component, registered, token = uncertified
    appid = registered["appid"]
    taskid = submit_and_authorize(world, token, world.sandbox.mini_program(appid)["admin_wxid"])
    rejected = review(world, taskid, "reject", "主体资质材料不清晰")
    assert rejected.status_code == 200 and rejected.json()["apply_status"] == 5
    failed = queryauth(world, token, taskid)
    assert (failed["apply_status"], failed["fail_reason"]) == (5, "主体资质材料不清晰")
    assert world.sandbox.mini_program(appid)["certified"] is False
    assert basic_info(world, token)["wx_verify_info"]["qualification_verify"] is False
    event = wxa_events(world, component, fastreg_callback, 2)[1]
    assert event["InfoType"] == "notify_3rd_wxa_auth"
    assert (event["apply_status"], event["message"]) == ("5", "主体资质材料不清晰")
    # A final failure closes the task: the component may apply again.
    assert wxaauth(world, token)["errcode"] == 0


def test_the_admin_refusing_auth_url_closes_the_task_and_a_day_times_it_out(
    world: World, uncertified: tuple[Component, dict[str, Any], str]
) -> None:
    component, registered, token = uncertified
    admin = world.sandbox.mini_program(registered["appid"])["admin_wxid"]
    first = wxaauth(world, token)
    world.sandbox.scan(first["auth_url"], admin, "cancel")
    assert queryauth(world, token, first["taskid"])["task_status"] == 2
    assert review(world, first["taskid"], "approve").status_code == 409
    second = wxaauth(world, token)
    assert second["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=24 * 3600)
    # A day later every token has expired: the component starts again from a fresh verify ticket.
    component.verify_ticket = world.sandbox.issue_verify_ticket(component.appid)
    component.access_token = world.component_token(component)
    code = world.sandbox.authorize(component.appid, registered["appid"])["authorization_code"]
    token = str(world.query_auth(component, code)["authorizer_access_token"])
    assert queryauth(world, token, second["taskid"])["task_status"] == 1
    assert wxaauth(world, token)["errcode"] == 0  # a timed-out task no longer blocks a new one


def test_wxaauth_and_queryauth_refusals(world: World, uncertified: tuple[Component, dict[str, Any], str]) -> None:
    component, registered, token = uncertified
    assert wxaauth(world, None)["errcode"] == 41001
    assert wxaauth(world, "not-a-token")["errcode"] == 40001
    # An OA's token is not a Mini Program's.
    oa_token = world.authorize(component, world.oa())
    assert wxaauth(world, oa_token)["errcode"] == 48001
    # A component the MP did not grant permission set 18.
    narrow = world.component(permission_sets=[17, 19])
    code = world.sandbox.authorize(narrow.appid, registered["appid"])["authorization_code"]
    assert wxaauth(world, str(world.query_auth(narrow, code)["authorizer_access_token"]))["errcode"] == 48001
    # The body: missing contact_info → 40097; a wrong type → 47001; empty → 44002.
    assert wxaauth(world, token, {"auth_data": {"customer_type": 1}})["errcode"] == 40097
    assert wxaauth(world, token, {"auth_data": {**AUTH_DATA, "customer_type": "one"}})["errcode"] == 47001
    assert world.post("/wxa/sec/wxaauth", raw=b"", access_token=token)["errcode"] == 44002
    # One open task at a time; another MP's task id is unknown to this one.
    taskid = wxaauth(world, token)["taskid"]
    assert wxaauth(world, token)["errcode"] == 40097
    assert world.post("/wxa/sec/queryauth", {"taskid": "nope"}, access_token=token)["errcode"] == 40097
    assert world.post("/wxa/sec/queryauth", {"taskid": taskid}, access_token=oa_token)["errcode"] == 48001
    # The sandbox's review: unknown task 404, an order not yet under review 409, a bad action 422.
    assert review(world, "nope", "approve").status_code == 404
    assert review(world, taskid, "approve").status_code == 409
    assert review(world, taskid, "maybe").status_code == 422
    assert world.sandbox.mini_program(registered["appid"])["certified"] is False


# ---------------------------------------------------------------- FASTREG_PLATFORM_VERSION


@pytest.fixture(scope="module")
def pinned_2023(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fastreg-2023")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}",
        data_dir=data_dir,
        sandbox_key="pinned-key",
        platform_version=V2023,
    )
    from fastreg.adapters.db.migrate import upgrade

    upgrade(settings.database_url)
    live, stop = run_live_server(settings)
    yield live
    stop()


def test_the_configured_version_is_the_default_a_reset_returns_to(pinned_2023: LiveServer) -> None:
    sandbox = SandboxClient(pinned_2023.base_url, pinned_2023.sandbox_key)
    with httpx.Client(base_url=pinned_2023.base_url, timeout=30) as api:
        world = World(pinned_2023, sandbox, api)
        sandbox.reset()
        assert version_call(sandbox, "GET").json() == {"version": V2023, "default": V2023}
        component = world.component()
        assert register(world, component, world.oa())["is_wx_verify_succ"] == "false"
        set_version(world, V2021)
        assert register(world, component, world.oa())["is_wx_verify_succ"] == "true"
        sandbox.reset()
        assert version_call(sandbox, "GET").json()["version"] == V2023
    sandbox.close()
