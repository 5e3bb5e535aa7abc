"""Hostile input never reaches a 500: deep JSON, lone surrogates, NUL bytes, over-long strings and odd ids are
refused in each surface's own dialect before they touch the database or the JSON encoder, on SQLite and on
PostgreSQL (where NUL bytes and lengths used to raise DataError), and the keep-alive connection survives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fastreg.testing import LiveServer, SandboxClient
from tests.api.world import World, operations
from tests.console.helpers import PASSWORD
from tests.console.test_http import csrf_of, log_in

DEEP = b'{"component_appid":' + b"[" * 1000 + b"]" * 1000 + b"}"


def cgi_post_paths(live: LiveServer) -> list[str]:
    return [path for method, path in operations(live, "/cgi-bin/") if method == "POST"]


@pytest.fixture
def tokens(world: World) -> dict[str, str]:
    """Valid tokens for every /cgi-bin route: the body is then what the route judges."""
    component = world.component()
    oa = world.oa()
    return {"component_access_token": component.access_token, "access_token": world.authorize(component, oa)}


def same_connection(client: httpx.Client) -> None:
    """The server kept the connection open (a crash closes it): the next request on it is answered."""
    assert client.get(client.base_url.copy_with(path="/healthz")).status_code == 200


# ---------------------------------------------------------------- /cgi-bin bodies


def test_json_nested_1000_deep_is_a_data_format_error_on_every_post_route(
    world: World, live: LiveServer, tokens: dict[str, str]
) -> None:
    paths = cgi_post_paths(live)
    assert len(paths) >= 9
    for path in paths:
        answer = world.post(path, raw=DEEP, **tokens)
        assert answer["errcode"] == 47001, (path, answer)
        assert answer["errmsg"].startswith("data format error")
    same_connection(world.api)


def test_json_nested_1000_deep_without_a_token_still_checks_the_token_first(world: World) -> None:
    answer = world.post("/cgi-bin/account/fastregister", raw=DEEP)
    assert answer["errcode"] == 41001, answer
    answer = world.post("/cgi-bin/component/api_component_token", raw=DEEP)
    assert answer["errcode"] == 47001, answer


def test_a_lone_surrogate_in_a_string_field_is_a_data_format_error(
    world: World, live: LiveServer, tokens: dict[str, str]
) -> None:
    for path in cgi_post_paths(live):
        for body in (b'{"component_appid":"\\ud800","appid":"\\ud800","ticket":"\\udc00x"}', b'{"\\ud800":1}'):
            answer = world.post(path, raw=body, **tokens)
            assert answer["errcode"] == 47001, (path, body, answer)
    same_connection(world.api)


def test_a_nul_byte_in_a_body_string_is_invalid_args(world: World, live: LiveServer, tokens: dict[str, str]) -> None:
    body = (
        b'{"component_appid":"wx\\u0000","component_appsecret":"s\\u0000","component_verify_ticket":"t\\u0000",'
        b'"authorization_code":"c\\u0000","authorizer_appid":"a\\u0000","authorizer_refresh_token":"r\\u0000",'
        b'"ticket":"t\\u0000","appid":"wx\\u0000"}'
    )
    for path in cgi_post_paths(live):
        answer = world.post(path, raw=body, **tokens)
        assert answer["errcode"] == 40097, (path, answer)
    same_connection(world.api)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/cgi-bin/token", {"grant_type": "client_credential", "appid": "wx\x00", "secret": "s"}),
        ("/cgi-bin/account/getaccountbasicinfo", {"access_token": "t\x00"}),
        ("/cgi-bin/scanstatus", {"id": "c\x00"}),
        ("/cgi-bin/fastregisterauth", {"appid": "wx\x00", "component_appid": "wx", "redirect_uri": "https://a/"}),
        ("/cgi-bin/componentloginpage", {"component_appid": "wx\x00", "pre_auth_code": "p", "redirect_uri": "x"}),
    ],
)
def test_a_nul_byte_in_a_query_parameter_is_invalid_args(world: World, path: str, params: dict[str, str]) -> None:
    response = world.api.get(path, params=params)
    assert response.status_code == 200
    assert response.json()["errcode"] == 40097
    same_connection(world.api)


def test_a_nul_byte_in_the_token_of_a_post_route_is_invalid_args(world: World) -> None:
    answer = world.post("/cgi-bin/account/fastregister", {"ticket": "t"}, access_token="tok\x00en")
    assert answer["errcode"] == 40097
    answer = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token="\x00")
    assert answer["errcode"] == 40097


# ---------------------------------------------------------------- /sandbox/v1


def assert_sandbox_refusal(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error


def test_sandbox_refuses_deep_json_and_lone_surrogates_as_invalid_json(sandbox_http: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    for body in (DEEP, b'{"name":"\\ud800","principal_name":"p","principal_type":"enterprise"}'):
        assert_sandbox_refusal(
            sandbox_http.post("/official-accounts", content=body, headers=headers), 400, "invalid_json"
        )
    same_connection(sandbox_http)


NUL_BODIES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/official-accounts", {"name": "n\x00", "principal_name": "p", "principal_type": "enterprise"}),
    ("POST", "/official-accounts", {"name": "n", "principal_name": "p\x00", "principal_type": "enterprise"}),
    ("POST", "/components", {"name": "c\x00", "redirect_domain": "tp.example.com"}),
    ("POST", "/components/wx0000000000000000/authorizations", {"authorizer_appid": "wx\x00"}),
    ("POST", "/confirmations/abc", {"wxid": "wxid_\x00abc", "action": "confirm"}),
    ("POST", "/scans", {"url": "http://x/m/confirm/\x00", "wxid": "wxid_abc", "action": "confirm"}),
    ("POST", "/personal-wechat-emails", {"email": "a\x00@example.com"}),
]
NUL_URLS: list[tuple[str, str]] = [
    ("GET", "/official-accounts/wx\x00"),
    ("PATCH", "/principals/p\x00"),
    ("POST", "/components/wx\x00/verify-ticket"),
    ("GET", "/mini-programs/wx\x00"),
    ("GET", "/confirmations?wxid=wxid_%00abc"),
    ("GET", "/mail?to=a%00@example.com"),
    ("GET", "/audit?appid=wx%00"),
    ("POST", "/confirmations/c%00"),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_BODIES)
def test_sandbox_refuses_a_nul_byte_in_a_body_string(
    sandbox_http: httpx.Client, method: str, path: str, body: dict[str, Any]
) -> None:
    assert_sandbox_refusal(sandbox_http.request(method, path, json=body), 422, "invalid_request")
    same_connection(sandbox_http)


@pytest.mark.parametrize(("method", "path"), NUL_URLS)
def test_sandbox_refuses_a_nul_byte_in_a_path_or_query(sandbox_http: httpx.Client, method: str, path: str) -> None:
    body = {"blacklisted": True} if method == "PATCH" else None
    response = sandbox_http.request(method, path.replace("\x00", "%00"), json=body)
    assert_sandbox_refusal(response, 422, "invalid_request")
    same_connection(sandbox_http)


def test_sandbox_refuses_strings_longer_than_their_columns(sandbox_http: httpx.Client) -> None:
    long_name = {"name": "n" * 201, "principal_name": "p", "principal_type": "enterprise"}
    assert_sandbox_refusal(sandbox_http.post("/official-accounts", json=long_name), 422, "invalid_request")
    long_principal = {"name": "n", "principal_name": "p" * 201, "principal_type": "enterprise"}
    assert_sandbox_refusal(sandbox_http.post("/official-accounts", json=long_principal), 422, "invalid_request")


# ---------------------------------------------------------------- the console


@pytest.fixture
def console(live: LiveServer, sandbox: SandboxClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30) as client:
        yield client


def operator(sandbox: SandboxClient) -> dict[str, Any]:
    created: dict[str, Any] = sandbox.create_official_account(
        name="输入测试公众号",
        principal_name="输入测试有限公司",
        principal_type="enterprise",
        operator_password=PASSWORD,
    )
    return created


def test_login_with_a_nul_byte_or_an_over_long_email_is_a_failed_login(
    console: httpx.Client, sandbox: SandboxClient
) -> None:
    for email in ("a" * 300 + "@example.com", "x" * 5000):
        refused = log_in(console, email)  # post/redirect/get: back to the login page, which says why
        assert refused.status_code == 303, (email[:20], refused.status_code)
        response = console.get(refused.headers["location"])
        assert response.status_code == 400, (email[:20], response.status_code)
        assert "text/html" in response.headers["content-type"]
        assert "邮箱或密码错误" in response.text
    response = log_in(console, "op\x00@example.com")
    assert response.status_code == 400
    assert "请求中含有无法接受的字符" in response.text
    same_connection(console)


@pytest.mark.parametrize(
    "path", ["/m/confirm/%00abc", "/activate/%00", "/oa/miniprograms/link/%00", "/login?next=/oa%00"]
)
def test_console_pages_refuse_a_nul_byte_in_the_url_with_their_own_error_page(console: httpx.Client, path: str) -> None:
    response = console.get(path)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text
    same_connection(console)


def test_console_forms_refuse_a_nul_byte(console: httpx.Client, sandbox: SandboxClient) -> None:
    created = operator(sandbox)
    assert log_in(console, created["operator_email"]).status_code == 303
    page = console.get("/oa/miniprograms/link")
    response = console.post("/oa/miniprograms/link", data={"csrf_token": csrf_of(page.text), "mp_appid": "wx\x00"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    same_connection(console)


@pytest.mark.parametrize("rid", ["%C2%B2", "99999999999999999999", "-1", "1e3"])
def test_console_registration_ids_must_be_plain_digits_in_range(
    console: httpx.Client, sandbox: SandboxClient, rid: str
) -> None:
    created = operator(sandbox)
    assert log_in(console, created["operator_email"]).status_code == 303
    status = console.get(f"/oa/fastreg/status?registration_id={rid}")
    assert status.status_code == 200
    assert status.json()["state"] == "gone"
    done = console.get(f"/oa/fastreg/done/{rid}")
    assert done.status_code == 404 and "<html" in done.text  # the console's own page, not a crash
    same_connection(console)


def wizard_at_account_step(console: httpx.Client, sandbox: SandboxClient, created: dict[str, Any]) -> str:
    """Log in, start a registration, let the admin scan, choose the qualifications; the registration id."""
    assert log_in(console, created["operator_email"]).status_code == 303
    protocol = console.get("/oa/fastreg/protocol")
    assert console.post("/oa/fastreg/start", data={"csrf_token": csrf_of(protocol.text), "agree": "1"}).is_redirect
    for pending in sandbox.confirmations(created["admin_wxid"]):
        sandbox.answer(pending["id"], created["admin_wxid"])
    step4 = console.get("/oa/fastreg")
    rid = re.search(r'name="registration_id" value="(\d+)"', step4.text)
    assert rid, step4.text[:500]
    chosen = console.post(
        "/oa/fastreg/qualifications",
        data={"csrf_token": csrf_of(step4.text), "registration_id": rid.group(1), "reuse_certification": "1"},
    )
    assert chosen.is_redirect
    assert 'id="account-form"' in console.get("/oa/fastreg").text
    return rid.group(1)


def test_an_mp_name_longer_than_its_column_is_a_field_error_on_both_databases(
    console: httpx.Client, sandbox: SandboxClient
) -> None:
    created = operator(sandbox)
    rid = wizard_at_account_step(console, sandbox, created)
    page = console.get("/oa/fastreg")
    form = {
        "csrf_token": csrf_of(page.text),
        "registration_id": rid,
        "email": "new-mp@example.com",
        "password": "Passw0rd2026",
        "password_confirm": "Passw0rd2026",
        "mp_name": "名" * 5000,
    }
    refused = console.post("/oa/fastreg/account", data=form)  # post/redirect/get: the step shows the error
    assert refused.status_code == 303
    assert 'id="error-mp_name"' in console.get(refused.headers["location"]).text
    assert 'id="account-form"' in console.get("/oa/fastreg").text  # still at step 5: nothing was stored
    assert sandbox.mail("new-mp@example.com") == []
    accepted = console.post("/oa/fastreg/account", data={**form, "mp_name": "名" * 200})
    assert accepted.status_code == 303
