"""The component side as WeChat answers it on the wire (fidelity.md §2 rows 1, 3, 4, 6, 7, 8, 9), over real HTTP:
the fast-registration permission sets, verify tickets valid 12 hours, both token parameter names, the codes of
api_query_auth, the authorizer's profile, one refresh token per authorization, and the authorizer list."""

from __future__ import annotations

from typing import Any

import pytest

from fastreg.testing import CallbackServer, wechatpy_component
from tests.api.test_api_fastregister import set_component
from tests.api.world import OA, Component, World

# 快速注册小程序 (27) and what the product page requires besides: 账号服务 (3), 小程序账号管理 (17),
# 小程序开发管理与数据分析 (18), 小程序基本信息设置 (30), 小程序认证 (31).
REQUIRED_SETS = [27, 3, 17, 18, 30, 31]
# Every set a sandbox component holds by default (25 is 开放平台账号管理, no longer the fast-registration one).
ALL_SETS = [*range(1, 11), 17, 18, 19, 22, 25, 27, 30, 31, 36, 37, 40, 41, 45, 48, 49, 51, 57]

COMPONENT_TOKEN_PATH = "/cgi-bin/component/api_component_token"
AUTHORIZER_TOKEN_PATH = "/cgi-bin/component/api_authorizer_token"
AUTHORIZER_INFO_PATH = "/cgi-bin/component/api_get_authorizer_info"
AUTHORIZER_LIST_PATH = "/cgi-bin/component/api_get_authorizer_list"
QUERY_AUTH_PATH = "/cgi-bin/component/api_query_auth"
START_PUSH_PATH = "/cgi-bin/component/api_start_push_ticket"


def token_answer(world: World, component: Component, ticket: str) -> dict[str, Any]:
    answer: dict[str, Any] = world.post(
        COMPONENT_TOKEN_PATH,
        {
            "component_appid": component.appid,
            "component_appsecret": component.secret,
            "component_verify_ticket": ticket,
        },
    )
    return answer


def component_call(world: World, component: Component, path: str, **body: Any) -> dict[str, Any]:
    """A component API called with the component's own token and appid."""
    answer: dict[str, Any] = world.post(
        path, {"component_appid": component.appid, **body}, component_access_token=component.access_token
    )
    return answer


def query_auth(world: World, component: Component, code: str) -> dict[str, Any]:
    return component_call(world, component, QUERY_AUTH_PATH, authorization_code=code)


def refresh(world: World, component: Component, appid: str, refresh_token: str) -> dict[str, Any]:
    return component_call(
        world, component, AUTHORIZER_TOKEN_PATH, authorizer_appid=appid, authorizer_refresh_token=refresh_token
    )


def authorizer_info(world: World, component: Component, appid: str) -> dict[str, Any]:
    answer = component_call(world, component, AUTHORIZER_INFO_PATH, authorizer_appid=appid)
    assert answer["errcode"] == 0, answer
    return answer


def authorizer_list(world: World, component: Component, **body: Any) -> dict[str, Any]:
    return component_call(world, component, AUTHORIZER_LIST_PATH, **body)


def fast_registered(world: World, component: Component, oa: OA) -> dict[str, Any]:
    """The OA authorizes the component, its admin confirms, and the component registers an MP."""
    token = world.authorize(component, oa)
    answer = world.fastregister(token, world.ticket(component, oa))
    assert answer["errcode"] == 0, answer
    return answer


# ---------------------------------------------------------------- row 1: permission sets


@pytest.mark.parametrize("missing", REQUIRED_SETS)
def test_fastregisterauth_refuses_a_component_lacking_any_required_set(world: World, missing: int) -> None:
    component = world.component(permission_sets=[n for n in ALL_SETS if n != missing])
    oa = world.oa()
    world.authorize(component, oa)
    assert "错误码：61029" in world.auth_page(component, oa)


def test_fastregister_refuses_a_component_that_lost_a_required_set(world: World) -> None:
    component, oa = world.component(), world.oa()
    token = world.authorize(component, oa)
    ticket = world.ticket(component, oa)
    set_component(world, component.appid, permission_sets=[n for n in ALL_SETS if n != 31])
    assert world.fastregister(token, ticket)["errcode"] == 61029
    set_component(world, component.appid, permission_sets=ALL_SETS)
    assert world.fastregister(token, ticket)["errcode"] == 0


# ---------------------------------------------------------------- row 3: verify tickets


def test_an_older_ticket_stays_valid_after_a_new_one(world: World) -> None:
    component = world.component(token=False)
    fresh = world.sandbox.issue_verify_ticket(component.appid)
    assert token_answer(world, component, component.verify_ticket)["errcode"] == 0
    assert token_answer(world, component, fresh)["errcode"] == 0


def test_a_ticket_expires_12_hours_after_its_issue_without_a_callback(world: World) -> None:
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    component = world.component(token=False)
    world.sandbox.set_clock(advance_seconds=12 * 3600 - 60)
    assert token_answer(world, component, component.verify_ticket)["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=3600)
    expired = token_answer(world, component, component.verify_ticket)
    assert expired["errcode"] == 61005
    assert expired["errmsg"].startswith("component ticket is expired")
    # A new ticket works again.
    assert token_answer(world, component, world.sandbox.issue_verify_ticket(component.appid))["errcode"] == 0


def test_a_pushed_ticket_does_not_retire_the_earlier_one(world: World, fastreg_callback: CallbackServer) -> None:
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    component = world.component(token=False, callback_url=fastreg_callback.url)
    world.sandbox.set_clock(advance_seconds=11 * 60)
    client = wechatpy_component(
        world.live.base_url, component.appid, component.secret, component.token, component.encoding_aes_key
    )
    pushed = fastreg_callback.wait_for(1)[-1].parse(client)
    assert pushed.verify_ticket != component.verify_ticket
    assert token_answer(world, component, component.verify_ticket)["errcode"] == 0
    assert token_answer(world, component, pushed.verify_ticket)["errcode"] == 0


def test_unknown_tickets_and_other_components_tickets_are_invalid(world: World) -> None:
    component, other = world.component(token=False), world.component(token=False)
    for ticket in ("ticket@@@unknown", other.verify_ticket):
        assert token_answer(world, component, ticket)["errcode"] == 61006


def test_start_push_ticket_pushes_a_usable_ticket(world: World, fastreg_callback: CallbackServer) -> None:
    component = world.component(token=False, callback_url=fastreg_callback.url)
    body = {"component_appid": component.appid, "component_secret": component.secret}
    assert world.post(START_PUSH_PATH, body) == {"errcode": 0, "errmsg": "ok"}
    client = wechatpy_component(
        world.live.base_url, component.appid, component.secret, component.token, component.encoding_aes_key
    )
    message = fastreg_callback.wait_for(1)[-1].parse(client)
    assert message.type == "component_verify_ticket" and message.verify_ticket != component.verify_ticket
    assert client.fetch_access_token()["expires_in"] == 7200  # wechatpy with the pushed ticket


def test_start_push_ticket_refusals(world: World, fastreg_callback: CallbackServer) -> None:
    component = world.component(token=False, callback_url=fastreg_callback.url)
    body = {"component_appid": component.appid, "component_secret": component.secret}
    assert world.post(START_PUSH_PATH, {**body, "component_secret": "0" * 32})["errcode"] == 40125
    assert world.post(START_PUSH_PATH, {**body, "component_appid": "wx0000000000000000"})["errcode"] == 40013
    assert world.post(START_PUSH_PATH, {"component_appid": component.appid})["errcode"] == 40097
    assert world.post(START_PUSH_PATH)["errcode"] == 44002
    assert fastreg_callback.pushes == []


# ---------------------------------------------------------------- row 4: the token parameter


def test_every_component_api_takes_the_token_as_access_token(world: World) -> None:
    component, oa = world.component(), world.oa()
    as_new_docs = {"access_token": component.access_token}
    preauth = world.post(
        "/cgi-bin/component/api_create_preauthcode", {"component_appid": component.appid}, **as_new_docs
    )
    assert preauth["errcode"] == 0 and preauth["pre_auth_code"]
    code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    queried = world.post(
        QUERY_AUTH_PATH, {"component_appid": component.appid, "authorization_code": code}, **as_new_docs
    )
    assert queried["errcode"] == 0
    refresh_token = queried["authorization_info"]["authorizer_refresh_token"]
    body = {"component_appid": component.appid, "authorizer_appid": oa.appid}
    refreshed = world.post(AUTHORIZER_TOKEN_PATH, {**body, "authorizer_refresh_token": refresh_token}, **as_new_docs)
    assert refreshed["errcode"] == 0
    assert world.post(AUTHORIZER_INFO_PATH, body, **as_new_docs)["errcode"] == 0
    listed = world.post(AUTHORIZER_LIST_PATH, {"component_appid": component.appid, "count": 10}, **as_new_docs)
    assert listed["errcode"] == 0 and listed["total_count"] == 1
    # Neither name: 41001.
    assert world.post(AUTHORIZER_INFO_PATH, body)["errcode"] == 41001


# ---------------------------------------------------------------- row 6: api_query_auth codes


def test_query_auth_answers_61009_for_an_unknown_code_and_61010_for_an_expired_one(world: World) -> None:
    component, other, oa = world.component(), world.component(), world.oa()
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    component.access_token = world.component_token(component)
    code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    for unknown in ("nope", code):  # a made-up code, and this component's code shown to another one
        answer = query_auth(world, other if unknown == code else component, unknown)
        assert answer["errcode"] == 61009
        assert answer["errmsg"].startswith("code is invalid")
    world.sandbox.set_clock(advance_seconds=3600)
    component.access_token = world.component_token(component)
    expired = query_auth(world, component, code)
    assert expired["errcode"] == 61010
    assert expired["errmsg"].startswith("code is expired")


# ---------------------------------------------------------------- row 7: api_get_authorizer_info


def test_authorizer_info_of_an_official_account(world: World) -> None:
    component, oa = world.component(), world.oa(principal_name="深圳市测试科技有限公司")
    code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    refresh_token = world.query_auth(component, code)["authorizer_refresh_token"]
    answer = authorizer_info(world, component, oa.appid)
    profile = answer["authorizer_info"]
    assert "principal_type" not in profile and "MiniProgramInfo" not in profile
    assert profile["principal_name"] == "深圳市测试科技有限公司"
    assert profile["service_type_info"] == {"id": 2} and profile["verify_type_info"] == {"id": 0}
    assert profile["account_status"] == 1 and profile["register_type"] == 0
    assert profile["basic_config"] == {"is_phone_configured": True, "is_email_configured": True}
    assert isinstance(profile["signature"], str)
    authorization = answer["authorization_info"]
    assert authorization["authorizer_appid"] == oa.appid
    assert authorization["authorizer_refresh_token"] == refresh_token
    assert {"funcscope_category": {"id": 27}} in authorization["func_info"]


def test_authorizer_info_of_a_fast_registered_mini_program(world: World) -> None:
    component, oa = world.component(), world.oa()
    registered = fast_registered(world, component, oa)
    refresh_token = world.query_auth(component, registered["authorization_code"])["authorizer_refresh_token"]
    answer = authorizer_info(world, component, registered["appid"])
    profile = answer["authorizer_info"]
    assert "principal_type" not in profile
    assert profile["register_type"] == 2 and profile["account_status"] == 1
    assert profile["basic_config"]["is_email_configured"] is False  # no email: the component manages it
    assert isinstance(profile["basic_config"]["is_phone_configured"], bool)
    assert profile["MiniProgramInfo"]["categories"] == []
    assert profile["MiniProgramInfo"]["network"]["RequestDomain"] == []
    assert answer["authorization_info"]["authorizer_refresh_token"] == refresh_token


# ---------------------------------------------------------------- row 8: refresh tokens


def test_authorizing_again_retires_the_earlier_refresh_token(world: World) -> None:
    component, oa = world.component(), world.oa()
    first_code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    first = world.query_auth(component, first_code)["authorizer_refresh_token"]
    # The same authorization: every exchange answers the same refresh token, and it keeps working.
    assert world.query_auth(component, first_code)["authorizer_refresh_token"] == first
    assert refresh(world, component, oa.appid, first)["errcode"] == 0

    second_code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    second = world.query_auth(component, second_code)["authorizer_refresh_token"]
    assert second != first
    retired = refresh(world, component, oa.appid, first)
    assert retired["errcode"] == 61023
    assert refresh(world, component, oa.appid, second)["errcode"] == 0


# ---------------------------------------------------------------- row 9: api_get_authorizer_list


def test_authorizer_list_pages_and_includes_fast_registered_mini_programs(world: World) -> None:
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    component = world.component()
    oa, other = world.oa(), world.oa()
    registered = fast_registered(world, component, oa)  # never exchanged: as after a timed-out call
    world.authorize(component, other)

    first_page = authorizer_list(world, component, offset=0, count=2)
    assert first_page["errcode"] == 0 and first_page["total_count"] == 3
    rest = authorizer_list(world, component, offset=2, count=2)
    items = first_page["list"] + rest["list"]
    assert len(first_page["list"]) == 2 and len(rest["list"]) == 1
    assert [item["authorizer_appid"] for item in items] == [oa.appid, registered["appid"], other.appid]
    assert all(set(item) == {"authorizer_appid", "refresh_token", "auth_time"} for item in items)
    assert all(abs(item["auth_time"] - 1794283200) < 600 for item in items)  # 2026-11-10T04:00:00Z, sandbox clock

    # The MP whose authorization code was never exchanged is recovered through its refresh token.
    mp_refresh = items[1]["refresh_token"]
    recovered = refresh(world, component, registered["appid"], mp_refresh)
    assert recovered["errcode"] == 0 and recovered["authorizer_access_token"]
    basic = world.get("/cgi-bin/account/getaccountbasicinfo", access_token=recovered["authorizer_access_token"])
    assert basic["appid"] == registered["appid"]

    # Another component sees none of them.
    stranger = world.component()
    assert authorizer_list(world, stranger, offset=0, count=500) == {
        "errcode": 0,
        "errmsg": "ok",
        "total_count": 0,
        "list": [],
    }


@pytest.mark.parametrize(
    ("body", "errcode"),
    [({"count": 501}, 40170), ({"count": 0}, 40097), ({"offset": -1, "count": 10}, 40097), ({}, 40097)],
)
def test_authorizer_list_bounds(world: World, body: dict[str, Any], errcode: int) -> None:
    component = world.component()
    assert authorizer_list(world, component, **body)["errcode"] == errcode


def test_authorizer_list_takes_offset_and_count_as_strings_too(world: World) -> None:
    component = world.component()
    world.authorize(component, world.oa())
    assert authorizer_list(world, component, offset="0", count="500")["total_count"] == 1
