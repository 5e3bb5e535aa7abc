"""The whole 快速注册并认证小程序 wizard walked in a real browser, as an OA operator and the admin's phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import activation_link, decode_qr, login, make_oa, shot

pytestmark = pytest.mark.browser


def confirm_on_phone(phone: Page, url: str, wxid: str, name: str) -> None:
    """The admin opens the scanned URL on the phone (the sandbox asks who is scanning) and confirms."""
    phone.goto(url)
    phone.fill("#f-wxid", wxid)
    phone.click("#wxid-submit")
    expect(phone.locator("#confirm-button")).to_be_visible()
    shot(phone, f"{name}-phone")
    phone.click("#confirm-button")
    expect(phone.locator("#confirmation-result")).to_have_attribute("data-status", "confirmed")
    shot(phone, f"{name}-phone-confirmed")


@pytest.mark.parametrize("server", ["sqlite", "postgres"], indirect=True)
def test_whole_wizard_then_mp_console_login(
    page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="全流程")

    # Log in, open 小程序 → 小程序管理.
    login(page, oa)
    page.click("#menu-miniprograms")
    expect(page.locator("#quota-line")).to_have_text("本月还可复用资质快速创建 5 个小程序")
    shot(page, "00-miniprograms")

    # Step 1: 添加 → 快速注册并认证小程序.
    page.click("#add-button")
    shot(page, "01a-add-chooser")
    page.click("#fastreg-start")
    expect(page.locator("#step-indicator li.current")).to_have_text("入口")
    expect(page.locator("#eligibility-ok")).to_be_visible()
    shot(page, "01-entry")

    # Step 2: the protocol; continuing without ticking the box is refused next to it.
    page.click("#to-protocol")
    expect(page.locator("#protocol-rules li")).to_have_count(8)
    page.click("#protocol-next")
    expect(page.locator("#error-agree")).to_have_text("请先勾选“我已阅读并同意”")
    page.check("#agree")
    shot(page, "02-protocol")
    page.click("#protocol-next")

    # Step 3: a real QR code; read it from the screen and confirm on the phone as the OA admin.
    expect(page.locator("#step-indicator li.current")).to_have_text("管理员扫码验证")
    qr = page.locator("#scan-qr")
    expect(qr).to_be_visible()
    shot(page, "03-admin-scan")
    url = decode_qr(page, "#scan-qr")
    assert url == qr.get_attribute("data-confirmation-url")
    assert re.search(r"/m/confirm/[\w-]+$", url)
    # Reloading keeps the same code (nothing is duplicated).
    page.reload()
    assert decode_qr(page, "#scan-qr") == url
    confirm_on_phone(phone, url, oa.admin_wxid, "03")

    # The desktop page polls and moves on by itself: step 4.
    expect(page.locator("#step-indicator li.current")).to_have_text("选择复用资质", timeout=10_000)
    expect(page.locator("#reuse-certification")).to_be_enabled()  # enterprise: optional
    page.check("#reuse-certification")
    page.check("#reuse-operator")
    shot(page, "04-qualifications")
    page.click("#qualifications-next")

    # Step 5: account details; a bad input is shown next to its field and keeps what was typed.
    expect(page.locator("#step-indicator li.current")).to_have_text("填写帐号信息")
    mp_email = "new-mini-program@example.com"
    page.fill("#f-email", mp_email)
    page.fill("#f-password", "short")
    page.fill("#f-password_confirm", "short")
    page.fill("#f-mp_name", "快注小程序")
    page.click("#account-submit")
    expect(page.locator("#error-password")).to_have_text("密码至少8位，且须同时包含字母和数字")
    expect(page.locator("#f-email")).to_have_value(mp_email)
    expect(page.locator("#f-mp_name")).to_have_value("快注小程序")
    shot(page, "05a-account-error")
    page.fill("#f-password", "MiniProg2026")
    page.fill("#f-password_confirm", "MiniProg2026")
    shot(page, "05-account")
    page.click("#account-submit")

    # Step 6: 请登录邮箱激活; the link arrives in the sandbox outbox.
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    expect(page.locator("#activation-email")).to_contain_text(mp_email)
    shot(page, "06-activation")
    page.click("#resend-activation")  # too soon: refused, at most one a minute
    expect(page.locator("#page-error")).to_have_text("发送过于频繁，请一分钟后再试")
    # Replaying step 5's form (back button, resubmission) changes nothing and sends no second mail.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    rid = page.locator("input[name=registration_id]").first.get_attribute("value") or ""
    replay = {"csrf_token": csrf, "registration_id": rid, "email": "other@example.com"}
    replay |= {"password": "MiniProg2026", "password_confirm": "MiniProg2026"}
    response = page.context.request.post("/oa/fastreg/account", form=replay, max_redirects=0)
    assert (response.status, response.headers["location"]) == (303, "/oa/fastreg")
    page.go_back()
    page.reload()
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    link = activation_link(sandbox, mp_email)
    assert len(sandbox.mail(mp_email)) == 1
    assert sandbox.mail("other@example.com") == []
    page.goto(link)  # the operator clicks the link in the mail: back to the wizard

    # Step 7: bind the admin (another WeChat user), who confirms on the phone.
    expect(page.locator("#step-indicator li.current")).to_have_text("绑定管理员")
    expect(page.locator("#page-notice")).to_have_text("邮箱已激活。")
    page.check("#admin-other")
    page.click("#admin-submit")  # "another WeChat user" without a wxid
    expect(page.locator("#error-admin_wxid")).to_have_text("请填写正确的微信号")
    expect(page.locator("#admin-other")).to_be_checked()
    page.fill("#f-admin_wxid", "bad id!")
    page.click("#admin-submit")
    expect(page.locator("#error-admin_wxid")).to_have_text("请填写正确的微信号")
    expect(page.locator("#f-admin_wxid")).to_have_value("bad id!")
    page.fill("#f-admin_wxid", "wxid_newadmin01")
    shot(page, "07-bind-admin")
    page.click("#admin-submit")
    admin_url = decode_qr(page, "#admin-qr")
    shot(page, "07b-bind-admin-qr")
    confirm_on_phone(phone, admin_url, "wxid_newadmin01", "07")

    # Success page: appid, 已认证, 已关联公众号.
    expect(page.locator("#success-title")).to_have_text("小程序注册成功", timeout=10_000)
    appid = page.locator("#new-appid").inner_text()
    assert re.fullmatch(r"wx[0-9a-f]{16}", appid)
    expect(page.locator("#badge-certified")).to_have_text("已认证")
    expect(page.locator("#badge-linked")).to_have_text("已关联公众号")
    shot(page, "08-success")

    mp = sandbox.mini_program(appid)
    assert mp["certified"] is True
    assert mp["admin_wxid"] == "wxid_newadmin01"
    assert mp["show_profile"] is False

    # The management page lists it, fast-registered, not on the profile; the quota went down by one.
    page.goto("/oa/miniprograms")
    expect(page.locator("#quota-line")).to_have_text("本月还可复用资质快速创建 4 个小程序")
    row = page.locator(f"#linked-mps tr[data-appid='{appid}']")
    expect(row).to_contain_text("快注小程序")
    expect(row).to_contain_text("复用资质快速创建")
    expect(row.locator(".profile-state")).to_have_text("未展示")
    row.locator(".profile-toggle").click()
    expect(page.locator(f"#linked-mps tr[data-appid='{appid}'] .profile-state")).to_have_text("已展示")
    assert sandbox.mini_program(appid)["show_profile"] is True
    expect(page.locator("#audit-history")).to_contain_text("小程序注册完成")
    shot(page, "09-miniprograms-after")

    # MP console with the new email and password.
    page.click("#mp-login-link") if page.locator("#mp-login-link").count() else page.goto("/mp/login")
    page.fill("#f-email", mp_email)
    page.fill("#f-password", "MiniProg2026")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#mp-appid")).to_have_text(appid)
    expect(page.locator("#mp-principal")).to_contain_text("测试主体全流程enterprise有限公司")
    expect(page.locator("#mp-certification")).to_contain_text("已认证")
    expect(page.locator("#mp-linked-oa")).to_contain_text(oa.appid)
    shot(page, "10-mp-console")
