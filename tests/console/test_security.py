"""Sessions, CSRF, login lockout, language switch and isolation between OAs, through the browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from fastreg.services import registration
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import complete_through_services, login, make_oa, operator_id, shot, to_pending

pytestmark = pytest.mark.browser


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    page: Page, context: BrowserContext, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="csrf")
    login(page, oa)
    # The session cookie is sent (same browser), but the form token is missing or wrong.
    for form in ({"agree": "1"}, {"agree": "1", "csrf_token": "forged"}):
        response = context.request.post("/oa/fastreg/start", form=form, max_redirects=0)
        assert response.status == 403
        assert "页面已失效" in response.text()
    assert sandbox.official_account(oa.appid)["pending_registration"] is None
    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text("入口")
    # The login form is protected too (a token bound to the browser's cookie).
    response = context.request.post("/login", form={"email": oa.email, "password": oa.password}, max_redirects=0)
    assert response.status == 403


def test_session_cookie_is_signed_and_http_only(page: Page, context: BrowserContext, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="cookie")
    login(page, oa)
    cookie = next(c for c in context.cookies() if c["name"] == "fastreg_session")
    assert cookie["httpOnly"] is True
    assert page.evaluate("document.cookie").find("fastreg_session") == -1
    # A tampered cookie is no session.
    context.add_cookies([{**cookie, "value": cookie["value"][:-2] + "xx"}])
    page.goto("/oa/miniprograms")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Foa%2Fminiprograms$"))


def test_operator_login_lockout(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="锁定")
    page.goto("/login")
    for _ in range(5):
        page.fill("#f-email", oa.email)
        page.fill("#f-password", "wrong-password-1")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#page-error")).to_have_text("邮箱或密码错误")
        expect(page.locator("#f-email")).to_have_value(oa.email)
    # Locked: even the right password is refused for 15 minutes.
    page.fill("#f-password", oa.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-error")).to_have_text("登录失败次数过多，请15分钟后再试")
    shot(page, "login-locked")
    sandbox.set_clock(advance_seconds=14 * 60)
    page.fill("#f-password", oa.password)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-error")).to_have_text("登录失败次数过多，请15分钟后再试")
    sandbox.set_clock(advance_seconds=61)
    login(page, oa)
    events = [e["kind"] for e in sandbox.http.get("/audit", params={"appid": oa.appid}).json()]
    assert events.count("login_failed") == 5


def test_mp_login_before_activation_and_lockout(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="小程序登录")
    to_pending(server.platform, oa, "early@example.com")
    page.goto("/mp/login")
    page.fill("#f-email", "early@example.com")
    page.fill("#f-password", "Passw0rd99")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-error")).to_have_text("帐号尚未激活，请先通过邮件中的链接激活")
    shot(page, "mp-login-not-activated")
    # Completed MPs log in; five wrong passwords lock the email.
    complete_through_services(server.platform, make_oa(sandbox, tag="已完成"), "done@example.com")
    for _ in range(5):
        page.fill("#f-email", "done@example.com")
        page.fill("#f-password", "Wrong-pass-9")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#page-error")).to_have_text("邮箱或密码错误")
    page.fill("#f-password", "Passw0rd99")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-error")).to_have_text("登录失败次数过多，请15分钟后再试")
    sandbox.set_clock(advance_seconds=15 * 60)
    page.fill("#f-password", "Passw0rd99")
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/mp$"))
    expect(page.locator("#mp-certification")).to_contain_text("已认证")


def test_english_switch_is_remembered(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="english")
    login(page, oa)
    page.goto("/oa/miniprograms")
    page.click("#lang-switch >> text=English")
    expect(page.locator("#quota-line")).to_have_text(
        "This month you can still fast-create 5 Mini Programs by reusing the qualification"
    )
    page.goto("/oa/fastreg")  # no ?lang: the choice is remembered
    expect(page.locator("#step-indicator li.current")).to_have_text("Start")
    shot(page, "01-entry-en")
    page.click("#lang-switch >> text=中文")
    expect(page.locator("#step-indicator li.current")).to_have_text("入口")


def test_an_operator_cannot_touch_another_oas_registration(
    page: Page, browser: Browser, server: LiveServer, sandbox: SandboxClient
) -> None:
    a, b = make_oa(sandbox, tag="A"), make_oa(sandbox, tag="B")
    op_b, oa_b = operator_id(server.platform, b.email)
    b_view = registration.start(server.platform, op_b)
    appid_a = complete_through_services(server.platform, a, "a-mp@example.com")
    login(page, a)
    page.goto("/oa/fastreg")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    # A's session with B's registration id: sent back to A's own wizard; B's registration is untouched.
    response = page.context.request.post(
        "/oa/fastreg/cancel", form={"csrf_token": csrf or "", "registration_id": str(b_view.id)}, max_redirects=0
    )
    assert response.status == 303
    assert registration.get(server.platform, oa_b, b_view.id).status == "draft"
    page.goto(f"/oa/fastreg/done/{b_view.id}")
    expect(page).to_have_url(re.compile(r"/oa/fastreg$"))
    # A's history shows only A's events; B's page never lists A's MP.
    page.goto("/oa/miniprograms")
    expect(page.locator("#audit-history")).not_to_contain_text(b.email)
    other = browser.new_context(base_url=server.base_url).new_page()
    login(other, b)
    other.goto("/oa/miniprograms")
    expect(other.locator("body")).not_to_contain_text(appid_a)
    expect(other.locator("#audit-history")).not_to_contain_text(a.email)
    other.context.close()
