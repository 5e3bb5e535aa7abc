"""Every HTML page refuses to be framed (X-Frame-Options and CSP frame-ancestors): the QR pages, their error
pages, the phone confirmation page, the console and the API documentation; JSON answers are left alone."""

from __future__ import annotations

import httpx

from tests.api.world import REDIRECT_URI, World, qr_url


def assert_not_frameable(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert response.headers.get("x-frame-options") == "DENY", (response.url, response.headers)
    assert "frame-ancestors 'none'" in response.headers.get("content-security-policy", "")


def test_every_html_page_refuses_framing(world: World) -> None:
    component = world.component()
    oa = world.oa()
    scan_page = world.api.get(
        "/cgi-bin/fastregisterauth",
        params={"appid": oa.appid, "component_appid": component.appid, "redirect_uri": REDIRECT_URI},
    )
    phone_url = qr_url(scan_page.text)
    code = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )["pre_auth_code"]
    pages = [
        scan_page,
        world.api.get("/cgi-bin/fastregisterauth", params={"appid": oa.appid, "component_appid": "wx0"}),
        world.api.get(
            "/cgi-bin/componentloginpage",
            params={"component_appid": component.appid, "pre_auth_code": code, "redirect_uri": REDIRECT_URI},
        ),
        world.api.get("/cgi-bin/componentloginpage", params={"component_appid": "wx0"}),
        world.api.get(phone_url),
        world.api.get("/m/confirm/unknown"),
        world.api.get("/login"),
        world.api.get("/activate/unknown"),
        world.api.get("/login?next=%00"),
        world.api.get("/docs"),
    ]
    for page in pages:
        assert_not_frameable(page)


def test_json_answers_carry_no_page_headers(world: World) -> None:
    response = world.api.get("/cgi-bin/token", params={"grant_type": "client_credential"})
    assert response.headers["content-type"].startswith("application/json")
    assert "x-frame-options" not in response.headers
