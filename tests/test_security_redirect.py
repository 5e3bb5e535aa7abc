"""``redirect_uri`` is judged by the host a browser goes to (WHATWG URL parsing): a backslash is a path separator
for a browser, so ``https://evil.example\\@thirdparty.example.com/cb`` would carry the ticket or the
authorization code to evil.example. Both pages refuse it with 61060; callback URLs are stored as a browser reads
them, or refused."""

from __future__ import annotations

import pytest

from fastreg.testing import CallbackServer
from tests.api.test_api_pages import error_code_on
from tests.api.world import REDIRECT_DOMAIN, REDIRECT_URI, World, qr_url

# Each goes to another host in a browser (urlparse().hostname says thirdparty.example.com for the first three).
ELSEWHERE = [
    f"https://evil.example\\@{REDIRECT_DOMAIN}/cb",
    f"https://evil.example\\\\@{REDIRECT_DOMAIN}/cb",
    f"http://evil.example:80\\@{REDIRECT_DOMAIN}/",
    f"https://evil.example/\\@{REDIRECT_DOMAIN}/cb",
    f"https://{REDIRECT_DOMAIN}.evil.example/cb",
    f"javascript://{REDIRECT_DOMAIN}/%0aalert(1)",
    f"/{REDIRECT_DOMAIN}/cb",
    "https://[::1/cb",
]
# The same host for a browser as for the registered domain.
SAME_HOST = [
    f"https://{REDIRECT_DOMAIN.upper()}/cb",
    f"https://{REDIRECT_DOMAIN}:8443/cb?state=1",
    f"https://user@{REDIRECT_DOMAIN}/cb",
    f"https:\\\\{REDIRECT_DOMAIN}\\cb",
]


def pre_auth_code(world: World, component_token: str, component_appid: str) -> str:
    answer = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component_appid},
        component_access_token=component_token,
    )
    return str(answer["pre_auth_code"])


@pytest.mark.parametrize("redirect_uri", ELSEWHERE)
def test_fastregisterauth_refuses_a_redirect_a_browser_sends_elsewhere(world: World, redirect_uri: str) -> None:
    component = world.component(token=False)
    oa = world.oa()
    params = {"appid": oa.appid, "component_appid": component.appid, "copy_wx_verify": 1, "redirect_uri": redirect_uri}
    response = world.api.get("/cgi-bin/fastregisterauth", params=params)
    assert response.status_code == 200
    assert error_code_on(response.text) == 61060
    assert world.sandbox.confirmations(oa.admin_wxid) == []  # no QR code, nothing to confirm


@pytest.mark.parametrize("redirect_uri", ELSEWHERE)
def test_componentloginpage_refuses_a_redirect_a_browser_sends_elsewhere(world: World, redirect_uri: str) -> None:
    component = world.component()
    oa = world.oa()
    code = pre_auth_code(world, component.access_token, component.appid)
    base = {"component_appid": component.appid, "pre_auth_code": code, "redirect_uri": redirect_uri}
    for params in (base, {**base, "biz_appid": oa.appid}):
        response = world.api.get("/cgi-bin/componentloginpage", params=params)
        assert response.status_code == 200
        assert error_code_on(response.text) == 61060, params
    assert world.sandbox.confirmations(oa.admin_wxid) == []


@pytest.mark.parametrize("redirect_uri", SAME_HOST)
def test_a_redirect_to_the_registered_host_is_accepted(world: World, redirect_uri: str) -> None:
    component = world.component()
    oa = world.oa()
    url = qr_url(world.auth_page(component, oa, redirect_uri=redirect_uri))
    answer = world.sandbox.scan(url, oa.admin_wxid, "confirm")
    assert answer["status"] == "confirmed" and "ticket=" in answer["redirect_url"]


def test_the_usual_redirect_still_carries_the_ticket(world: World) -> None:
    ticket = world.ticket(world.component(), world.oa())
    assert ticket
    assert REDIRECT_URI.startswith("https://")


@pytest.mark.parametrize(
    "callback_url", ["http://exa mple.com/cb", "https://[::1/cb", "http:///", "http://a/" + "é" * 400]
)
def test_a_callback_url_a_browser_cannot_read_is_refused(world: World, callback_url: str) -> None:
    response = world.sandbox.http.post(
        "/components", json={"name": "回调测试", "redirect_domain": REDIRECT_DOMAIN, "callback_url": callback_url}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_a_callback_url_is_delivered_to_the_host_a_browser_reads(
    world: World, fastreg_callback: CallbackServer
) -> None:
    # "http://127.0.0.1:PORT\\@evil.example/wechat/callback": a browser goes to 127.0.0.1:PORT (path
    # "/@evil.example/wechat/callback"); so does the push.
    base = fastreg_callback.url.removesuffix("/wechat/callback")
    created = world.sandbox.http.post(
        "/components",
        json={"name": "回调规范化", "redirect_domain": REDIRECT_DOMAIN, "callback_url": base + "\\@evil.example/cb"},
    )
    assert created.status_code == 201, created.text
    world.sandbox.issue_verify_ticket(created.json()["component_appid"])
    pushes = fastreg_callback.wait_for(1)
    assert pushes[-1].path == "/@evil.example/cb"
