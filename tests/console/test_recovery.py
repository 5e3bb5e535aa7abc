"""Finding the way back in the browser: an expired login in the middle of the wizard, form URLs opened
directly, validation errors after a redirect (no resubmission), the step-7 admin changed or refreshed, and the
console's own error pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fastreg.services import confirmations
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import (
    decode_qr,
    fill_account,
    login,
    make_oa,
    open_wizard,
    shot,
    submit_redirected,
    to_account_step,
    to_admin_step,
    to_pending,
)
from tests.console.test_wizard import confirm_on_phone

pytestmark = pytest.mark.browser

STEP5 = "填写帐号信息"


def test_login_expired_mid_wizard_returns_to_the_same_step(
    page: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="过期")
    to_account_step(server.platform, oa)
    page.goto("/login?next=/oa/fastreg&expired=1&lang=en")
    expect(page.locator("#page-notice")).to_have_text("Your login has expired. Please log in again.")
    page.goto("/login?lang=zh")
    open_wizard(page, oa, STEP5)
    page.fill("#f-email", "expired-session@example.com")
    # Logged out in a second tab; the first one still shows step 5 and submits it.
    other = page.context.new_page()
    other.goto("/oa")
    other.click("form[action='/logout'] button")
    expect(other).to_have_url(re.compile(r"/login$"))
    other.close()
    page.click("#account-submit")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Foa%2Ffastreg&expired=1$"))
    expect(page.locator("#page-notice")).to_have_text("登录已过期，请重新登录。")
    page.fill("#f-email", oa.email)
    page.fill("#f-password", oa.password)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/oa/fastreg$"))
    expect(page.locator("#step-indicator li.current")).to_have_text(STEP5)
    assert sandbox.mail("expired-session@example.com") == []


def test_form_urls_opened_directly_lead_to_their_pages(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="直达")
    to_account_step(server.platform, oa)
    # Without a session: to the login (never a JSON error).
    page.goto("/oa/fastreg/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Foa%2Ffastreg$"))
    login(page, oa)
    for action in ("account", "scan", "admin", "email", "resend", "back", "qualifications", "cancel"):
        page.goto(f"/oa/fastreg/{action}")
        expect(page).to_have_url(re.compile(r"/oa/fastreg$"))
        expect(page.locator("#step-indicator li.current")).to_have_text(STEP5)
    page.goto("/oa/fastreg/start")  # the protocol's form; a registration is open, so the wizard
    expect(page.locator("#step-indicator li.current")).to_have_text(STEP5)
    page.goto("/oa/miniprograms/wx0000000000000000/profile")
    expect(page).to_have_url(re.compile(r"/oa/miniprograms$"))
    page.goto("/logout")  # a GET does not log out
    expect(page).to_have_url(re.compile(r"/oa$"))
    page.goto("/mp/logout")
    expect(page).to_have_url(re.compile(r"/mp/login$"))
    assert "detail" not in page.content()


def test_refused_forms_redirect_and_show_their_errors_once(
    page: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="重定向")
    to_account_step(server.platform, oa)
    open_wizard(page, oa, STEP5)
    # Step 5: the refusal is a redirect to the wizard, which shows the error and what was typed.
    fill_account(page, "prg-mp@example.com", "short", "short")
    submit_redirected(page, "#account-submit", "account")
    expect(page.locator("#error-password")).to_have_text("密码至少8位，且须同时包含字母和数字")
    expect(page.locator("#f-email")).to_have_value("prg-mp@example.com")
    # Shown once: a reload shows the step afresh.
    page.reload()
    expect(page.locator("#error-password")).to_have_count(0)
    fill_account(page, "prg-mp@example.com", "MiniProg2026", "MiniProg2026")
    page.click("#account-submit")
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    # Back after the error and the success: a page, never a form to resubmit.
    page.go_back()
    expect(page).to_have_url(re.compile(r"/oa/fastreg$"))
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    page.go_forward()
    # Step 6's change-email form: the polling page is at the wizard's URL, so its reloads post nothing.
    page.fill("#f-email", "not-an-email")
    submit_redirected(page, "#change-email", "email")
    expect(page.locator("#error-email")).to_have_text("邮箱格式不正确")
    expect(page.locator("#f-email")).to_have_value("not-an-email")
    page.reload()
    expect(page.locator("#error-email")).to_have_count(0)
    assert len(sandbox.mail("prg-mp@example.com")) == 1


def test_refused_login_redirects_with_the_email_kept(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="登录重定向")
    page.goto("/login?next=/oa/miniprograms")
    page.fill("#f-email", oa.email)
    page.fill("#f-password", "wrong-password-1")
    with page.expect_response(re.compile(r"/login$")) as posted:
        page.click("#login-form button[type=submit]")
    assert posted.value.status == 303
    expect(page).to_have_url(re.compile(r"/login\?next=%2Foa%2Fminiprograms$"))
    expect(page.locator("#page-error")).to_have_text("邮箱或密码错误")
    expect(page.locator("#f-email")).to_have_value(oa.email)
    expect(page.locator("#f-password")).to_have_value("")
    page.fill("#f-password", oa.password)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/oa/miniprograms$"))


def test_resend_and_change_email_share_one_limit(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="限频")
    to_pending(server.platform, oa, "limit-first@example.com")
    open_wizard(page, oa, "邮箱激活")
    # The same address (however written): nothing changes, nothing is sent.
    for _ in range(3):
        page.fill("#f-email", " Limit-First@example.com ")
        page.click("#change-email")
        expect(page.locator("#page-notice")).to_have_text("新邮箱与当前邮箱相同，未重新发送激活邮件。")
    # Another address within the minute: refused like a resend.
    page.fill("#f-email", "limit-second@example.com")
    page.click("#change-email")
    expect(page.locator("#error-email")).to_have_text("发送过于频繁，请一分钟后再试")
    expect(page.locator("#activation-email")).to_contain_text("limit-first@example.com")
    assert len(sandbox.mail("limit-first@example.com")) == 1
    assert sandbox.mail("limit-second@example.com") == []
    sandbox.set_clock(advance_seconds=61)
    page.fill("#f-email", "limit-second@example.com")
    page.click("#change-email")
    expect(page.locator("#page-notice")).to_have_text("邮箱已修改，激活邮件已发送到新邮箱。")
    expect(page.locator("#activation-email")).to_contain_text("limit-second@example.com")
    page.click("#resend-activation")  # the change's mail counts: too soon
    expect(page.locator("#page-error")).to_have_text("发送过于频繁，请一分钟后再试")
    assert len(sandbox.mail("limit-second@example.com")) == 1
    page.goto("/oa/miniprograms")
    expect(page.locator("#audit-history")).to_contain_text("更换邮箱")


def test_a_typed_password_never_comes_back_in_the_page(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="密码")
    to_account_step(server.platform, oa)
    open_wizard(page, oa, STEP5)
    for email, confirm, field in (
        ("bad-email", "Secret123", "email"),
        ("pw@example.com", "Secret124", "password_confirm"),
    ):
        fill_account(page, email, "Secret123", confirm)
        page.click("#account-submit")
        expect(page.locator(f"#error-{field}")).to_be_visible()
        assert "Secret12" not in page.content()
        expect(page.locator("#f-password")).to_have_value("")
        expect(page.locator("#f-password_confirm")).to_have_value("")
        expect(page.locator("#f-email")).to_have_value(email)
    # 取消注册 sits among the form's buttons but cancels (it does not submit the account form).
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#wizard-cancel")
    expect(page.locator("#page-notice")).to_have_text("已取消快速注册。")
    assert sandbox.official_account(oa.appid)["pending_registration"] is None


def test_step7_admin_changed_while_waiting_and_an_expired_code_refreshed(
    page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="换管理员")
    to_admin_step(server.platform, oa, "step7-mp@example.com", reuse_operator=True)
    open_wizard(page, oa, "绑定管理员")
    # The wxid is asked only for another WeChat user.
    expect(page.locator("#admin-operator")).to_be_checked()
    expect(page.locator("#f-admin_wxid")).to_be_hidden()
    page.check("#admin-other")
    expect(page.locator("#f-admin_wxid")).to_be_visible()
    page.fill("#f-admin_wxid", "wxid_typo001")
    page.click("#admin-submit")
    expect(page.locator("#admin-asked")).to_contain_text("wxid_typo001")
    first = decode_qr(page, "#admin-qr")
    # A mistyped wxid is corrected while waiting: a new code for the right admin, the first one closed.
    page.click("#change-admin summary")
    expect(page.locator("#f-admin_wxid")).to_have_value("wxid_typo001")
    page.fill("#f-admin_wxid", "wxid_right01")
    page.click("#admin-submit")
    expect(page.locator("#admin-asked")).to_contain_text("wxid_right01")
    second = decode_qr(page, "#admin-qr")
    assert second != first
    assert confirmations.describe(server.platform, confirmations.id_from_url(first)).status == "cancelled"
    # Ten minutes later the code has expired: the page says so and refreshes it for the same admin.
    sandbox.set_clock(advance_seconds=601)
    expect(page.locator("#admin-status")).to_have_text("二维码已过期，请刷新二维码。", timeout=10_000)
    shot(page, "step7-expired")
    page.click("#admin-refresh")
    expect(page.locator("#admin-asked")).to_contain_text("wxid_right01")
    third = decode_qr(page, "#admin-qr")
    assert third not in (first, second)
    shot(page, "step7-recovered")
    confirm_on_phone(phone, third, "wxid_right01", "step7-recovered")
    expect(page.locator("#success-title")).to_have_text("小程序注册成功", timeout=10_000)
    assert sandbox.official_account(oa.appid)["pending_registration"] is None


def test_unknown_urls_and_wrong_methods_get_the_consoles_pages(page: Page, sandbox: SandboxClient) -> None:
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.locator("#error-title")).to_have_text("页面不存在")
    expect(page.locator("#error-home")).to_have_attribute("href", "/")
    assert "detail" not in page.content()
    shot(page, "error-404")
    response = page.goto("/oa/fastreg/done/not-a-number?lang=en")
    assert response is not None and response.status == 404
    expect(page.locator("#error-title")).to_have_text("Page not found")
    shot(page, "error-404-en")
    # A method the URL does not take (a form's method changed by hand): 405, as a page.
    answer = page.context.request.put("/login")
    assert answer.status == 405 and "Not Found" not in answer.text() and 'id="error-page"' in answer.text()
    assert "This page cannot be opened this way" in answer.text()  # the English choice is remembered
    page.goto("/login?lang=zh")
    answer = page.context.request.delete("/oa/miniprograms")
    assert answer.status == 405 and "不能这样打开此页面" in answer.text()
    # WeChat's API and the sandbox keep their JSON answers.
    assert page.context.request.get("/cgi-bin/no-such-api").json()["errcode"] == 40066
    assert page.context.request.get("/sandbox/v1/no-such-route").json()["error"]["code"] == "unauthorized"
    # A favicon, linked from every page.
    icon = page.context.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon" and icon.body()[:4] == b"\0\0\1\0"
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/favicon.ico")


def test_an_unexpected_failure_is_the_consoles_500_page(server: LiveServer) -> None:
    from fastapi.testclient import TestClient

    from fastreg.web.app import create_app

    app = create_app(platform=server.platform)

    def fail() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/oa/failing", fail)
    app.add_api_route("/cgi-bin/failing", fail)
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/oa/failing")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "服务器出错了" in page.text and "boom" not in page.text
    assert "Something went wrong" in client.get("/oa/failing?lang=en").text
    api = client.get("/cgi-bin/failing")
    assert (api.status_code, api.text) == (500, "Internal Server Error")
