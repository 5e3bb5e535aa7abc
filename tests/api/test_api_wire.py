"""What WeChat writes on the wire, over real HTTP (fidelity.md §1 and §2 rows 15-17): English errmsg texts
followed by `` rid: `` and the request id of the X-Request-Id header; WeChat's JSON errors for unknown paths
and wrong methods under /cgi-bin and /wxa; the consent redirect's ``expires_in=600`` and a code valid 600 s;
the ticket and the code appended to the query before a redirect URI's ``#fragment``."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.api.world import REDIRECT_URI, Component, World, qr_url, query_param

WECHAT_RID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")


def raw_post(world: World, path: str, body: Any = None, *, raw: bytes | None = None, **params: Any) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    response = world.api.post(path, params=params, content=content)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response


def assert_wire_error(response: httpx.Response, errcode: int, text: str) -> None:
    """Exactly ``{"errcode", "errmsg": "<text> rid: <X-Request-Id>"}``, the id shaped like WeChat's rid."""
    rid = response.headers["x-request-id"]
    assert WECHAT_RID.fullmatch(rid), rid
    assert response.json() == {"errcode": errcode, "errmsg": f"{text} rid: {rid}"}


def fastregister(world: World, token: str, ticket: str) -> httpx.Response:
    return raw_post(world, "/cgi-bin/account/fastregister", {"ticket": ticket}, access_token=token)


# ---------------------------------------------------------------- errmsg texts and the rid


@pytest.mark.parametrize(
    ("oa_fields", "copy_wx_verify", "errcode", "text"),
    [
        ({"principal_type": "personal"}, 1, 61051, "invalid realname type"),
        ({"verified": False}, 1, 61052, "need to be certified"),
        ({"principal_type": "government"}, 0, 61056, "copy_wx_verify is required option"),
    ],
)
def test_fastregister_refusals_answer_the_wire_text_and_rid(
    world: World, oa_fields: dict[str, Any], copy_wx_verify: int, errcode: int, text: str
) -> None:
    component = world.component()
    oa = world.oa(**oa_fields)
    token = world.authorize(component, oa)
    ticket = world.ticket(component, oa, copy_wx_verify=copy_wx_verify) if errcode != 61051 else "x"
    assert_wire_error(fastregister(world, token, ticket), errcode, text)


def test_invalid_ticket_answers_the_wire_text_and_rid(world: World) -> None:
    component = world.component()
    oa = world.oa()
    token = world.authorize(component, oa)
    assert_wire_error(fastregister(world, token, "no-such-ticket"), 61058, "invalid ticket")


def test_common_codes_keep_their_texts_with_the_rid(world: World) -> None:
    path = "/cgi-bin/component/api_create_preauthcode"
    assert_wire_error(raw_post(world, path, {}), 41001, "access_token missing")
    assert_wire_error(
        raw_post(world, path, {}, component_access_token="unknown"),
        40001,
        "invalid credential, access_token is invalid or not latest",
    )
    assert_wire_error(raw_post(world, "/cgi-bin/component/api_component_token", raw=b""), 44002, "empty post data")
    assert_wire_error(raw_post(world, "/cgi-bin/component/api_component_token", raw=b"{x"), 47001, "data format error")


def test_verify_ticket_and_authorization_code_texts(world: World) -> None:
    component = world.component()
    body = {"component_appid": component.appid, "component_appsecret": component.secret}
    assert_wire_error(
        raw_post(world, "/cgi-bin/component/api_component_token", {**body, "component_verify_ticket": "nope"}),
        61006,
        "component ticket is invalid",
    )
    answer = raw_post(
        world,
        "/cgi-bin/component/api_query_auth",
        {"component_appid": component.appid, "authorization_code": "nope"},
        component_access_token=component.access_token,
    )
    assert_wire_error(answer, 61009, "code is invalid")


def test_the_rid_is_the_callers_request_id_when_it_sends_one(world: World) -> None:
    response = world.api.post(
        "/cgi-bin/component/api_create_preauthcode", content=b"{}", headers={"X-Request-Id": "trace-42"}
    )
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json() == {"errcode": 41001, "errmsg": "access_token missing rid: trace-42"}


def test_generated_request_ids_look_like_wechats_rid(world: World) -> None:
    before = int(time.time())
    response = raw_post(world, "/cgi-bin/component/api_create_preauthcode", {})
    rid = response.headers["x-request-id"]
    assert WECHAT_RID.fullmatch(rid)
    assert before - 5 <= int(rid[:8], 16) <= time.time() + 5  # the first group is the Unix time
    assert raw_post(world, "/cgi-bin/component/api_create_preauthcode", {}).headers["x-request-id"] != rid


def create_preauthcode(world: World, component: Component) -> httpx.Response:
    return raw_post(
        world,
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )


def test_success_keeps_ok_without_a_rid(world: World) -> None:
    response = create_preauthcode(world, world.component())
    assert response.json()["errcode"] == 0 and response.json()["errmsg"] == "ok"


def test_oversized_body_refusal_carries_the_rid(world: World) -> None:
    response = world.api.post("/cgi-bin/component/api_component_token", content=b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    assert_wire_error(response, 45002, "content size out of limit")


# ---------------------------------------------------------------- unknown paths and wrong methods


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/cgi-bin/nope", "/cgi-bin/component/api_nope", "/wxa/nope", "/wxa/sec/nope", "/cgi-bin/", "/cgi-bin"]
)
def test_unknown_api_paths_answer_invalid_url(world: World, method: str, path: str) -> None:
    response = world.api.request(method, path, params={"access_token": "x"}, content=b"{}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert_wire_error(response, 40066, "invalid url")


@pytest.mark.parametrize(
    ("method", "path", "errcode", "text"),
    [
        ("GET", "/cgi-bin/component/api_component_token", 43002, "require POST method"),
        ("PUT", "/cgi-bin/component/api_component_token", 43002, "require POST method"),
        ("GET", "/cgi-bin/account/fastregister", 43002, "require POST method"),
        ("DELETE", "/cgi-bin/wxopen/wxamplinkget", 43002, "require POST method"),
        ("POST", "/cgi-bin/token", 43001, "require GET method"),
        ("PUT", "/cgi-bin/token", 43001, "require GET method"),
        ("POST", "/cgi-bin/componentloginpage", 43001, "require GET method"),
        ("POST", "/cgi-bin/fastregisterauth", 43001, "require GET method"),
    ],
)
def test_wrong_methods_answer_wechats_method_errors(
    world: World, method: str, path: str, errcode: int, text: str
) -> None:
    response = world.api.request(method, path, content=b"{}")
    assert response.status_code == 200
    assert_wire_error(response, errcode, text)


def test_other_prefixes_keep_their_own_not_found(world: World) -> None:
    sandbox = world.sandbox.http.get("/nope")
    assert sandbox.status_code == 404 and sandbox.json()["error"]["code"] == "not_found"
    elsewhere = world.api.get("/no-such-page")
    assert elsewhere.status_code == 404 and "errcode" not in elsewhere.text


def test_an_sdk_raises_its_own_error_for_an_unknown_path_and_a_wrong_method(world: World) -> None:
    from wechatpy import WeChatClient
    from wechatpy.exceptions import WeChatClientException

    oa = world.oa()
    token = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    client = WeChatClient(oa.appid, oa.secret, access_token=token["access_token"])
    client.API_BASE_URL = world.live.base_url + "/cgi-bin/"
    with pytest.raises(WeChatClientException) as unknown:
        client.get("no/such/api")
    assert unknown.value.errcode == 40066 and unknown.value.errmsg.startswith("invalid url rid: ")
    with pytest.raises(WeChatClientException) as wrong:
        client.get("component/api_component_token")
    assert wrong.value.errcode == 43002


# ---------------------------------------------------------------- consent redirect: expires_in=600, 600 s


def consent(world: World, component: Component, redirect_uri: str) -> str:
    """The OA admin confirms the componentloginpage consent; the redirect URL."""
    oa = world.oa()
    code = create_preauthcode(world, component).json()["pre_auth_code"]
    params = {
        "component_appid": component.appid,
        "pre_auth_code": code,
        "redirect_uri": redirect_uri,
        "biz_appid": oa.appid,
    }
    page = world.api.get("/cgi-bin/componentloginpage", params=params)
    url = qr_url(page.text)
    return str(world.sandbox.scan(url, oa.admin_wxid, "confirm")["redirect_url"])


def query_auth(world: World, component: Component, code: str) -> httpx.Response:
    return raw_post(
        world,
        "/cgi-bin/component/api_query_auth",
        {"component_appid": component.appid, "authorization_code": code},
        component_access_token=component.access_token,
    )


def test_consent_code_expires_in_600_seconds(world: World) -> None:
    component = world.component()
    redirect = consent(world, component, REDIRECT_URI)
    assert redirect.startswith(REDIRECT_URI + "?auth_code=") and query_param(redirect, "expires_in") == "600"
    code = query_param(redirect, "auth_code")
    world.sandbox.set_clock(advance_seconds=599)
    assert query_auth(world, component, code).json()["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=2)
    assert_wire_error(query_auth(world, component, code), 61010, "code is expired")


# ---------------------------------------------------------------- the redirect URI's fragment stays last


@pytest.mark.parametrize(
    ("redirect_uri", "before", "after"),
    [
        (REDIRECT_URI + "#/done", REDIRECT_URI + "?ticket=", "#/done"),
        (REDIRECT_URI + "?state=a%20b#/done?x=1", REDIRECT_URI + "?state=a%20b&ticket=", "#/done?x=1"),
    ],
)
def test_fastregisterauth_puts_the_ticket_before_the_fragment(
    world: World, redirect_uri: str, before: str, after: str
) -> None:
    component = world.component()
    oa = world.oa()
    token = world.authorize(component, oa)
    url = qr_url(world.auth_page(component, oa, redirect_uri=redirect_uri))
    redirect = str(world.sandbox.scan(url, oa.admin_wxid, "confirm")["redirect_url"])
    ticket = query_param(redirect, "ticket")
    assert redirect == f"{before}{ticket}{after}"
    assert fastregister(world, token, ticket).json()["errcode"] == 0


def test_componentloginpage_puts_the_code_before_the_fragment(world: World) -> None:
    component = world.component()
    redirect = consent(world, component, REDIRECT_URI + "?from=wx#/authorized")
    code = query_param(redirect, "auth_code")
    assert redirect == f"{REDIRECT_URI}?from=wx&auth_code={code}&expires_in=600#/authorized"
    assert query_auth(world, component, code).json()["errcode"] == 0
