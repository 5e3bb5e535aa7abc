"""The conventions every Open API endpoint follows: HTTP 200 with {"errcode","errmsg"} for every refusal (the
errmsg's ` rid: ` suffix is checked against X-Request-Id by World),
UTF-8 JSON with Chinese as real characters, bodies parsed whatever the Content-Type, 41001/40001/42001,
47001/44002, oversized bodies refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.world import World, wire_answer

TOKEN_ENDPOINTS = [
    ("/cgi-bin/component/api_create_preauthcode", "component_access_token"),
    ("/cgi-bin/component/api_query_auth", "component_access_token"),
    ("/cgi-bin/component/api_authorizer_token", "component_access_token"),
    ("/cgi-bin/component/api_get_authorizer_info", "component_access_token"),
    ("/cgi-bin/account/fastregister", "access_token"),
    ("/cgi-bin/wxopen/wxamplinkget", "access_token"),
    ("/cgi-bin/wxopen/wxamplink", "access_token"),
    ("/cgi-bin/wxopen/wxampunlink", "access_token"),
]


@pytest.mark.parametrize(("path", "param"), TOKEN_ENDPOINTS)
def test_missing_and_unknown_tokens(world: World, path: str, param: str) -> None:
    assert world.post(path, {}) == {"errcode": 41001, "errmsg": "access_token missing"}
    assert world.post(path, {}, **{param: "unknown"}) == {
        "errcode": 40001,
        "errmsg": "invalid credential, access_token is invalid or not latest",
    }


def test_getaccountbasicinfo_token_checks(world: World) -> None:
    assert world.get("/cgi-bin/account/getaccountbasicinfo")["errcode"] == 41001
    assert world.get("/cgi-bin/account/getaccountbasicinfo", access_token="x")["errcode"] == 40001
    oa = world.oa()
    token = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    # An Official Account's token reads the OA's own information.
    assert world.get("/cgi-bin/account/getaccountbasicinfo", access_token=token["access_token"])["appid"] == oa.appid


def test_chinese_sent_as_real_characters(world: World) -> None:
    component = world.component()
    oa = world.oa(principal_name="城南晚报社")
    world.authorize(component, oa)
    response = world.api.post(
        "/cgi-bin/component/api_get_authorizer_info",
        params={"component_access_token": component.access_token},
        content=json.dumps({"component_appid": component.appid, "authorizer_appid": oa.appid}).encode(),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "城南晚报社".encode() in response.content
    assert b"\\u" not in response.content


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "text/xml"]
)
def test_body_parsed_as_json_whatever_the_content_type(world: World, content_type: str | None) -> None:
    component = world.component(token=False)
    body = json.dumps(
        {
            "component_appid": component.appid,
            "component_appsecret": component.secret,
            "component_verify_ticket": component.verify_ticket,
        }
    ).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    response = world.api.post("/cgi-bin/component/api_component_token", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["errcode"] == 0


@pytest.mark.parametrize(
    ("raw", "errcode"),
    [
        (b"", 44002),
        (b"   \n", 44002),
        (b"{not json", 47001),
        (b"\xff\xfe", 47001),
        (b'"a string"', 47001),
        (b"[]", 47001),
        (b"null", 47001),
        (b'{"component_appid": 5, "component_appsecret": "s", "component_verify_ticket": "t"}', 47001),
        (b'{"component_appid": ["x"], "component_appsecret": "s", "component_verify_ticket": "t"}', 47001),
        (b'{"component_appid": "wx"}', 40097),
    ],
)
def test_malformed_bodies(world: World, raw: bytes, errcode: int) -> None:
    answer = world.post("/cgi-bin/component/api_component_token", raw=raw)
    assert answer["errcode"] == errcode
    assert isinstance(answer["errmsg"], str) and answer["errmsg"]


def test_wrong_field_types_after_a_valid_token(world: World) -> None:
    component = world.component()
    oa = world.oa()
    token = world.authorize(component, oa)
    assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": 1}, access_token=token)["errcode"] == 47001
    assert (
        world.post("/cgi-bin/wxopen/wxamplink", {"appid": "wx1", "notify_users": "x"}, access_token=token)["errcode"]
        == 47001
    )
    assert (
        world.post("/cgi-bin/wxopen/wxamplink", {"appid": "wx1", "show_profile": 7}, access_token=token)["errcode"]
        == 40097
    )
    assert world.post("/cgi-bin/wxopen/wxampunlink", raw=b"", access_token=token)["errcode"] == 44002
    # wxamplinkget takes an empty body as {}.
    assert world.post("/cgi-bin/wxopen/wxamplinkget", raw=b"", access_token=token)["errcode"] == 0


def test_oversized_body_refused(world: World) -> None:
    big = b'{"component_appid":"' + b"a" * (1024 * 1024) + b'"}'
    response = world.api.post("/cgi-bin/component/api_component_token", content=big)
    assert response.status_code == 413
    assert wire_answer(response) == {"errcode": 45002, "errmsg": "content size out of limit"}

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = world.api.post("/cgi-bin/component/api_component_token", content=chunks())
    assert response.status_code == 413 and response.json()["errcode"] == 45002
    # Just under the limit is read (and refused for what it says, not for its size).
    fits = b'{"component_appid":"' + b"a" * (1024 * 1024 - 100) + b'"}'
    assert world.post("/cgi-bin/component/api_component_token", raw=fits)["errcode"] == 40097


def test_success_answers_carry_errcode_zero_and_ok(world: World) -> None:
    component = world.component()
    answer = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"


def test_openapi_document_lists_every_endpoint_with_errcodes(world: World) -> None:
    document = world.api.get("/openapi.json").json()
    paths = document["paths"]
    expected = {
        "/cgi-bin/token": "get",
        "/cgi-bin/component/api_component_token": "post",
        "/cgi-bin/component/api_create_preauthcode": "post",
        "/cgi-bin/componentloginpage": "get",
        "/cgi-bin/component/api_query_auth": "post",
        "/cgi-bin/component/api_authorizer_token": "post",
        "/cgi-bin/component/api_get_authorizer_info": "post",
        "/cgi-bin/fastregisterauth": "get",
        "/cgi-bin/account/fastregister": "post",
        "/cgi-bin/account/getaccountbasicinfo": "get",
        "/cgi-bin/wxopen/wxamplinkget": "post",
        "/cgi-bin/wxopen/wxamplink": "post",
        "/cgi-bin/wxopen/wxampunlink": "post",
    }
    for path, method in expected.items():
        operation = paths[path][method]
        assert "| errcode | errmsg |" in operation["description"], path
        if method == "post":
            assert "application/json" in operation["requestBody"]["content"], path
    fastregister = paths["/cgi-bin/account/fastregister"]["post"]
    for code in (61051, 61052, 61053, 61054, 61055, 61056, 61057, 61058, 61028, 61029, 61060, 61061, 41001, 42001):
        assert f"| {code} |" in fastregister["description"]
    assert "FastRegisterAnswer" in json.dumps(fastregister["responses"]["200"])
    assert "FastRegisterAnswer" in document["components"]["schemas"]
