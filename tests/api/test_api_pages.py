"""The two browser pages of the Open API: fastregisterauth and componentloginpage (validation, QR code decoded
from the PNG, the phone confirmation, the polling status and the redirect), and a real Chromium following
the page's polling to the redirect."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

import httpx
import pytest

from tests.api.world import REDIRECT_URI, World, decode_qr, qr_image, qr_url, query_param


def error_code_on(html: str) -> int | None:
    import re

    found = re.search(r"错误码：(\d+)", html)
    return int(found.group(1)) if found else None


def test_the_qr_image_is_loaded_by_the_page_and_only_for_a_page_confirmation(world: World) -> None:
    """The page names its QR code's image (no drawing for a client that only reads the page); the image route
    draws only a fastregisterauth/componentloginpage confirmation's code."""
    html = world.auth_page(world.component(), world.oa())
    url = qr_url(html)
    assert 'src="/cgi-bin/scanqr?id=' in html and "data:image" not in html
    confirmation_id = urlparse(url).path.rsplit("/", 1)[1]
    assert world.api.get("/cgi-bin/scanqr", params={"id": confirmation_id}).headers["content-type"] == "image/png"
    for unknown in ("", "nope", confirmation_id[:-1] + ("A" if confirmation_id[-1] != "A" else "B")):
        missing = world.api.get("/cgi-bin/scanqr", params={"id": unknown})
        assert missing.status_code == 404 and missing.text == "no such confirmation"


def test_fastregisterauth_page_qr_and_ticket_redirect(world: World) -> None:
    component = world.component(name="云服务商")
    oa = world.oa(name="城市晚报")
    html = world.auth_page(component, oa, copy_wx_verify=1)
    assert "城市晚报" in html and "云服务商" in html and "复用" in html
    png, url = qr_image(html, world.api)
    assert decode_qr(png) == url
    assert url.startswith(world.live.base_url + "/m/confirm/")

    confirmation_id = urlparse(url).path.rsplit("/", 1)[1]
    status = world.get("/cgi-bin/scanstatus", id=confirmation_id)
    assert status == {"errcode": 0, "errmsg": "ok", "status": "pending", "redirect_url": None}

    answer = world.sandbox.scan(url, oa.admin_wxid, "confirm")
    status = world.get("/cgi-bin/scanstatus", id=confirmation_id)
    assert status["status"] == "confirmed" and status["redirect_url"] == answer["redirect_url"]
    assert status["redirect_url"].startswith(REDIRECT_URI + "?ticket=")
    assert query_param(status["redirect_url"], "ticket")


def test_scanstatus_withholds_the_redirect_from_other_browsers(world: World) -> None:
    """Only the browser that opened the page (its opener cookie) learns the redirect and its live ticket."""
    component = world.component()
    oa = world.oa()
    url = qr_url(world.auth_page(component, oa))  # opened by world.api, which keeps its cookie
    world.sandbox.scan(url, oa.admin_wxid, "confirm")
    params = {"id": urlparse(url).path.rsplit("/", 1)[1]}
    with httpx.Client(base_url=world.live.base_url) as other:
        seen = other.get("/cgi-bin/scanstatus", params=params)
    assert seen.json() == {"errcode": 0, "errmsg": "ok", "status": "confirmed", "redirect_url": None}
    assert "ticket" not in seen.text and seen.headers["cache-control"] == "no-store"
    own = world.api.get("/cgi-bin/scanstatus", params=params)
    assert own.json()["redirect_url"].startswith(REDIRECT_URI + "?ticket=")
    assert own.headers["cache-control"] == "no-store"


def test_fastregisterauth_appends_ticket_with_ampersand_when_uri_has_a_query(world: World) -> None:
    component = world.component()
    oa = world.oa()
    html = world.auth_page(component, oa, redirect_uri=REDIRECT_URI + "?state=abc")
    url = qr_url(html)
    answer = world.sandbox.scan(url, oa.admin_wxid, "confirm")
    assert answer["redirect_url"].startswith(REDIRECT_URI + "?state=abc&ticket=")


def test_fastregisterauth_cancel_shows_cancelled(world: World) -> None:
    component = world.component()
    oa = world.oa()
    url = qr_url(world.auth_page(component, oa))
    world.sandbox.scan(url, oa.admin_wxid, "cancel")
    status = world.get("/cgi-bin/scanstatus", id=urlparse(url).path.rsplit("/", 1)[1])
    assert status["status"] == "cancelled" and status["redirect_url"] is None


@pytest.mark.parametrize("case", ["unknown_oa", "unknown_component", "unpublished", "permissions", "redirect"])
def test_fastregisterauth_refusals_render_an_error_page(world: World, case: str) -> None:
    expected = {"unknown_oa": 40013, "unknown_component": 40013, "unpublished": 61028, "permissions": 61029}
    fields: dict[str, object] = {}
    if case == "unpublished":
        fields["published"] = False
    if case == "permissions":
        fields["permission_sets"] = [1, 2, 3]
    component = world.component(token=False, **fields)
    oa = world.oa()
    params = {
        "appid": "wx0000000000000000" if case == "unknown_oa" else oa.appid,
        "component_appid": "wx0000000000000000" if case == "unknown_component" else component.appid,
        "copy_wx_verify": 1,
        "redirect_uri": "https://evil.example.org/cb" if case == "redirect" else REDIRECT_URI,
    }
    response = world.api.get("/cgi-bin/fastregisterauth", params=params)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert error_code_on(response.text) == expected.get(case, 61060)
    assert 'id="scan-qr"' not in response.text


def test_fastregisterauth_missing_parameters(world: World) -> None:
    response = world.api.get("/cgi-bin/fastregisterauth")
    assert response.status_code == 200 and error_code_on(response.text) == 40013


def test_scanstatus_only_for_the_pages_confirmations(world: World) -> None:
    assert world.get("/cgi-bin/scanstatus", id="nope")["errcode"] == 40097
    assert world.get("/cgi-bin/scanstatus")["errcode"] == 40097


# ---------------------------------------------------------------- componentloginpage


def pre_auth_code(world: World, component: object) -> str:
    answer = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},  # type: ignore[attr-defined]
        component_access_token=component.access_token,  # type: ignore[attr-defined]
    )
    return str(answer["pre_auth_code"])


def test_componentloginpage_consent_by_the_admin(world: World) -> None:
    component = world.component(name="授权测试平台")
    oa = world.oa(name="授权公众号")
    code = pre_auth_code(world, component)
    params = {"component_appid": component.appid, "pre_auth_code": code, "redirect_uri": REDIRECT_URI}

    chooser = world.api.get("/cgi-bin/componentloginpage", params=params)
    assert chooser.status_code == 200 and 'name="biz_appid"' in chooser.text and "授权测试平台" in chooser.text

    page = world.api.get("/cgi-bin/componentloginpage", params={**params, "auth_type": 3, "biz_appid": oa.appid})
    assert "授权公众号" in page.text
    png, url = qr_image(page.text, world.api)
    assert decode_qr(png) == url

    stranger = world.sandbox.http.post("/scans", json={"url": url, "wxid": "wxid_someone9", "action": "confirm"})
    assert stranger.status_code == 403
    answer = world.sandbox.scan(url, oa.admin_wxid, "confirm")
    redirect = answer["redirect_url"]
    assert redirect.startswith(REDIRECT_URI + "?auth_code=") and query_param(redirect, "expires_in") == "600"
    assert world.get("/cgi-bin/scanstatus", id=urlparse(url).path.rsplit("/", 1)[1])["redirect_url"] == redirect

    info = world.query_auth(component, query_param(redirect, "auth_code"))
    assert info["authorizer_appid"] == oa.appid
    assert world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=info["authorizer_access_token"])["errcode"] == 0


def test_componentloginpage_refusals(world: World) -> None:
    component = world.component()
    other = world.component()
    oa = world.oa()
    code = pre_auth_code(world, component)
    base = {"component_appid": component.appid, "pre_auth_code": code, "redirect_uri": REDIRECT_URI}
    cases = [
        ({**base, "component_appid": "wx0000000000000000"}, 40013),
        ({**base, "pre_auth_code": "bogus"}, 40029),
        ({**base, "component_appid": other.appid}, 40029),  # another component's code
        ({**base, "redirect_uri": "https://elsewhere.example.net/x"}, 61060),
        ({**base, "biz_appid": "wx0000000000000000"}, 40013),
        ({**base, "biz_appid": oa.appid, "auth_type": 2}, 40013),  # Mini Programs only
    ]
    for params, errcode in cases:
        response = world.api.get("/cgi-bin/componentloginpage", params=params)
        assert response.status_code == 200
        assert error_code_on(response.text) == errcode, params
    world.sandbox.set_clock(advance_seconds=1800)
    expired = world.api.get("/cgi-bin/componentloginpage", params={**base, "biz_appid": oa.appid})
    assert error_code_on(expired.text) == 40029


# ---------------------------------------------------------------- a real browser follows the polling


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
def test_browser_page_polls_and_follows_the_redirect(world: World) -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    base = world.live.base_url
    component = world.component(redirect_domain="127.0.0.1")
    oa = world.oa()
    redirect_uri = base + "/healthz?from=fastregisterauth"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(
            f"{base}/cgi-bin/fastregisterauth?appid={oa.appid}&component_appid={component.appid}"
            f"&copy_wx_verify=1&redirect_uri={redirect_uri.replace('?', '%3F').replace('=', '%3D')}"
        )
        url = page.get_attribute("#scan-qr", "data-confirmation-url")
        assert url
        world.sandbox.scan(url, oa.admin_wxid, "confirm")
        page.wait_for_url("**/healthz?from=fastregisterauth&ticket=*", timeout=15000)
        assert query_param(page.url, "ticket")
        # Another client polling the same confirmation learns only that it was confirmed.
        status = world.get("/cgi-bin/scanstatus", id=urlparse(url).path.rsplit("/", 1)[1])
        assert status["status"] == "confirmed" and status["redirect_url"] is None
        browser.close()
