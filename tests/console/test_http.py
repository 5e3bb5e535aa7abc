"""Console pages over plain HTTP: security headers, static files, redirects, escaping, language cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import PASSWORD, activation_link, make_oa, to_pending


@pytest.fixture
def http(server: LiveServer, sandbox: SandboxClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def log_in(http: httpx.Client, email: str, password: str = PASSWORD, next_: str = "") -> httpx.Response:
    page = http.get("/login")
    return http.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text), "next": next_}
    )


def test_pages_forbid_framing_and_caching(http: httpx.Client) -> None:
    response = http.get("/login")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in response.text


def test_static_files(http: httpx.Client) -> None:
    css = http.get("/static/console/console.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "#07c160" in css.text and "PingFang SC" in css.text and "Noto Sans CJK SC" in css.text
    assert http.get("/static/console/console.js").status_code == 200
    assert http.get("/static/console/..%2Froutes.py").status_code == 404
    assert http.get("/static/console/routes.py").status_code == 404


def test_login_redirects_only_inside_the_site(http: httpx.Client, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="next")
    response = log_in(http, oa.email, next_="/oa/miniprograms")
    assert (response.status_code, response.headers["location"]) == (303, "/oa/miniprograms")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    http.cookies.clear()
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
        response = log_in(http, oa.email, next_=evil)
        assert response.headers["location"] == "/oa"
        http.cookies.clear()


def test_pages_need_a_login(http: httpx.Client) -> None:
    for path in ("/oa", "/oa/miniprograms", "/oa/fastreg", "/oa/miniprograms/add", "/oa/fastreg/done/1"):
        response = http.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    assert http.get("/oa/fastreg/status").status_code == 401
    assert http.get("/mp").headers["location"] == "/mp/login"
    response = http.post("/oa/fastreg/start", data={"agree": "1"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_names_are_escaped(http: httpx.Client, sandbox: SandboxClient) -> None:
    created = sandbox.create_official_account(
        name="<script>alert(1)</script>",
        principal_name="转义测试主体",
        principal_type="enterprise",
        operator_password=PASSWORD,
    )
    log_in(http, created["operator_email"])
    page = http.get("/oa")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_language_choice_is_remembered_and_unknown_ones_ignored(http: httpx.Client) -> None:
    response = http.get("/login?lang=en")
    assert "Log in to your Official Account" in response.text
    assert "fastreg_lang=en" in response.headers["set-cookie"]
    assert "Log in to your Official Account" in http.get("/login").text
    assert "登录公众号" in http.get("/login?lang=zh").text
    assert "登录公众号" in http.get("/login?lang=xx").text


def test_activation_link_opened_without_a_console_session(
    http: httpx.Client, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="手机邮箱")
    to_pending(server.platform, oa, "mailbox@example.com")
    link = activation_link(sandbox, "mailbox@example.com")
    response = http.get(link)
    assert response.status_code == 200
    assert "邮箱已激活，请回到快速注册页面绑定管理员。" in response.text
    again = http.get(link)
    assert again.status_code == 400
    assert "激活链接无效或已被使用" in again.text
    assert http.get("/activate/not-a-token").status_code == 400
