"""Refusals a person meets in the console, each checked in the browser and against the stored state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from fastreg.services import confirmations, registration
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import (
    OA,
    activation_link,
    complete_through_services,
    decode_qr,
    login,
    make_oa,
    operator_id,
    shot,
    to_pending,
)

pytestmark = pytest.mark.browser


def expect_refused_everywhere(page: Page, message: str, name: str) -> None:
    """The chooser disables 快速注册并认证小程序 with the reason; step 1 explains it and offers no way on."""
    page.goto("/oa/miniprograms/add")
    expect(page.locator("#fastreg-refusal")).to_have_text(message)
    expect(page.locator("#fastreg-disabled")).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#fastreg-start")).to_have_count(0)
    shot(page, f"refusal-{name}")
    page.goto("/oa/fastreg")
    expect(page.locator("#eligibility-refusal")).to_contain_text(message)
    expect(page.locator("#to-protocol")).to_have_count(0)
    # Going straight to the protocol page does not get round it.
    page.goto("/oa/fastreg/protocol")
    expect(page).to_have_url(re.compile(r"/oa/fastreg$"))


def test_unverified_oa_is_refused(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, verified=False, tag="未认证")
    login(page, oa)
    expect_refused_everywhere(page, "公众号未认证", "unverified")
    assert sandbox.official_account(oa.appid)["pending_registration"] is None


def test_personal_oa_is_refused(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, principal_type="personal", tag="个人")
    login(page, oa)
    expect_refused_everywhere(page, "个人主体的公众号不支持快速注册小程序", "personal")


def test_quota_used_up_after_five(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="额度")
    for n in range(5):
        complete_through_services(server.platform, oa, f"quota-mp-{n}@example.com")
    login(page, oa)
    page.goto("/oa/miniprograms")
    expect(page.locator("#quota-line")).to_have_text("本月还可复用资质快速创建 0 个小程序")
    expect(page.locator("#linked-mps tbody tr")).to_have_count(5)
    expect_refused_everywhere(page, "本月已复用资质创建5个小程序,不可新增。", "quota-5")


def test_quota_for_an_individual_business_is_one(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, principal_type="individual_business", tag="个体")
    login(page, oa)
    page.goto("/oa/miniprograms")
    expect(page.locator("#quota-line")).to_have_text("本月还可复用资质快速创建 1 个小程序")
    complete_through_services(server.platform, oa, "individual-mp@example.com")
    expect_refused_everywhere(page, "本月已复用资质创建1个小程序,不可新增。", "quota-1")


def test_pending_registration_blocks_a_second_and_resumes(
    page: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="待完成")
    rid = to_pending(server.platform, oa, "pending-mp@example.com")
    login(page, oa)
    page.goto("/oa/miniprograms")
    expect(page.locator("#pending-registration")).to_contain_text("待完成注册")
    expect(page.locator("#pending-registration")).to_contain_text("pending-mp@example.com")
    page.goto("/oa/miniprograms/add")
    expect(page.locator("#fastreg-refusal")).to_have_text("公众号仍有快速创建的账号在流程中")
    shot(page, "refusal-pending")
    # 继续 resumes where it stopped (step 6), however often the page is opened or reloaded.
    page.goto("/oa/miniprograms")
    page.click("#continue-registration")
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    page.reload()
    page.go_back()
    page.go_forward()
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    pending = sandbox.official_account(oa.appid)["pending_registration"]
    assert (pending["id"], pending["status"]) == (rid, "pending")
    # 取消 frees the way for a new registration.
    page.goto("/oa/miniprograms")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-registration")
    expect(page.locator("#page-notice")).to_have_text("已取消快速注册。")
    expect(page.locator("#pending-registration")).to_have_count(0)
    page.goto("/oa/miniprograms/add")
    expect(page.locator("#fastreg-start")).to_be_visible()
    assert sandbox.official_account(oa.appid)["pending_registration"] is None


def _to_account_step(page: Page, server: LiveServer, oa: OA) -> None:
    op_id, oa_id = operator_id(server.platform, oa.email)
    view = registration.start(server.platform, op_id)
    scan = registration.new_scan(server.platform, oa_id, view.id)
    confirmations.answer(server.platform, scan.id, oa.admin_wxid, confirmations.CONFIRM)
    registration.choose_qualifications(server.platform, oa_id, view.id, True, False)
    login(page, oa)
    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text("填写帐号信息")


def _submit_account(page: Page, email: str) -> None:
    page.fill("#f-email", email)
    page.fill("#f-password", "GoodPass123")
    page.fill("#f-password_confirm", "GoodPass123")
    page.click("#account-submit")


def test_email_already_used_is_refused_next_to_the_field(
    page: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    other = make_oa(sandbox, tag="占用")
    oa = make_oa(sandbox, tag="邮箱")
    _to_account_step(page, server, oa)
    for taken in (other.email, other.email.upper()):  # an operator's login, in any case
        _submit_account(page, taken)
        expect(page.locator("#error-email")).to_have_text("该邮箱已被占用，请使用其他邮箱")
        expect(page.locator("#f-email")).to_have_value(taken)
        expect(page.locator("#step-indicator li.current")).to_have_text("填写帐号信息")
    shot(page, "refusal-email-taken")
    _submit_account(page, "not-an-email")
    expect(page.locator("#error-email")).to_have_text("邮箱格式不正确")
    assert sandbox.official_account(oa.appid)["pending_registration"] is None
    assert sandbox.mail() == []


def test_email_bound_to_personal_wechat_is_refused(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    sandbox.http.post("/personal-wechat-emails", json={"email": "someone@personal.example"}).raise_for_status()
    oa = make_oa(sandbox, tag="个人微信")
    _to_account_step(page, server, oa)
    _submit_account(page, "someone@personal.example")
    expect(page.locator("#error-email")).to_have_text("该邮箱已绑定个人微信号，请使用其他邮箱")
    shot(page, "refusal-email-personal-wechat")
    # In English the same refusal reads in English, still next to the field.
    page.goto("/oa/fastreg?lang=en")
    _submit_account(page, "someone@personal.example")
    expect(page.locator("#error-email")).to_have_text("This email is bound to a personal WeChat account")
    assert sandbox.official_account(oa.appid)["pending_registration"] is None


def test_wrong_wxid_on_the_phone_page_changes_nothing(
    page: Page, browser: Browser, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="扫码")
    login(page, oa)
    page.goto("/oa/fastreg/protocol")
    page.check("#agree")
    page.click("#protocol-next")
    url = decode_qr(page, "#scan-qr")
    phone = browser.new_context(base_url=server.base_url, viewport={"width": 375, "height": 740}).new_page()
    phone.goto(url + "?wxid=wxid_stranger01")
    phone.click("#confirm-button")
    expect(phone.locator("#phone-error")).to_have_text("你不是该帐号的管理员，无权确认")
    shot(phone, "refusal-wrong-wxid-phone")
    confirmation_id = url.rsplit("/", 1)[1]
    assert confirmations.describe(server.platform, confirmation_id).status == "pending"
    expect(page.locator("#step-indicator li.current")).to_have_text("管理员扫码验证")
    # The admin may still confirm afterwards; a cancel on the phone shows on the desktop with a new code offered.
    phone.goto(url + "?wxid=" + oa.admin_wxid)
    phone.click("#cancel-button")
    expect(phone.locator("#confirmation-result")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("#scan-status")).to_contain_text("管理员已在手机上取消确认", timeout=10_000)
    shot(page, "03c-admin-scan-cancelled")
    page.click("#scan-refresh")
    new_url = decode_qr(page, "#scan-qr")
    assert new_url != url
    phone.goto(url + "?wxid=" + oa.admin_wxid)
    expect(phone.locator("#confirmation-closed")).to_have_text("该请求已取消。")
    phone.context.close()


def test_scan_code_expires_and_can_be_refreshed(page: Page, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="过期码")
    login(page, oa)
    page.goto("/oa/fastreg/protocol")
    page.check("#agree")
    page.click("#protocol-next")
    url = decode_qr(page, "#scan-qr")
    sandbox.set_clock(advance_seconds=601)
    expect(page.locator("#scan-status")).to_have_text("二维码已过期，请刷新二维码。", timeout=10_000)
    shot(page, "03d-admin-scan-expired")
    with pytest.raises(Exception, match="409"):
        sandbox.scan(url, oa.admin_wxid)
    page.click("#scan-refresh")
    fresh = decode_qr(page, "#scan-qr")
    sandbox.scan(fresh, oa.admin_wxid)
    expect(page.locator("#step-indicator li.current")).to_have_text("选择复用资质", timeout=10_000)


def test_expired_activation_link(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, tag="激活过期")
    to_pending(server.platform, oa, "late@example.com")
    link = activation_link(sandbox, "late@example.com")
    sandbox.set_clock(advance_seconds=48 * 3600 + 1)
    login(page, oa)
    page.goto(link)
    expect(page.locator("#activation-result")).to_have_text("激活链接已过期，请重新发送激活邮件")
    shot(page, "refusal-activation-expired")
    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")
    # A resent link works, and the old one stays dead.
    page.click("#resend-activation")
    expect(page.locator("#page-notice")).to_contain_text("激活邮件已重新发送")
    fresh = activation_link(sandbox, "late@example.com")
    assert fresh != link
    page.goto(fresh)
    expect(page.locator("#step-indicator li.current")).to_have_text("绑定管理员")
    page.goto(fresh)
    expect(page.locator("#activation-result")).to_have_text("激活链接无效或已被使用")


def test_government_oa_must_reuse_certification(page: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    oa = make_oa(sandbox, principal_type="government", tag="政府")
    op_id, oa_id = operator_id(server.platform, oa.email)
    view = registration.start(server.platform, op_id)
    scan = registration.new_scan(server.platform, oa_id, view.id)
    confirmations.answer(server.platform, scan.id, oa.admin_wxid, confirmations.CONFIRM)
    login(page, oa)
    page.goto("/oa/fastreg")
    box = page.locator("#reuse-certification")
    expect(box).to_be_checked()
    expect(box).to_be_disabled()
    shot(page, "04b-qualifications-government")
    page.click("#qualifications-next")
    expect(page.locator("#step-indicator li.current")).to_have_text("填写帐号信息")
    assert registration.get(server.platform, oa_id, view.id).reuse_certification is True


def test_admin_step_shows_a_refusal_that_arises_while_waiting(
    page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    """At step 7 the principal is blacklisted while the page waits for the admin: the desktop page says so by
    itself (it polls), the admin's confirmation is refused on the phone, and lifting it lets it complete."""
    oa = make_oa(sandbox, tag="待绑定")
    email = "blacklisted-meanwhile@example.com"
    registration_id = to_pending(server.platform, oa, email)
    registration.activate(server.platform, activation_link(sandbox, email).rsplit("/", 1)[-1])
    _, oa_id = operator_id(server.platform, oa.email)
    registration.bind_admin(server.platform, oa_id, registration_id, "wxid_waiting01")
    login(page, oa)
    page.goto("/oa/fastreg")
    admin_url = decode_qr(page, "#admin-qr")
    expect(page.locator("#admin-refusal")).to_have_count(0)

    principal = "测试主体待绑定enterprise有限公司"
    sandbox.set_blacklisted(principal)
    expect(page.locator("#admin-refusal")).to_contain_text("现在无法完成注册", timeout=15_000)
    expect(page.locator("#admin-refusal")).to_contain_text("该主体已被列入黑名单")
    shot(page, "refusal-step7-blacklisted")
    phone.goto(admin_url + "?wxid=wxid_waiting01")
    phone.click("#confirm-button")
    expect(phone.locator("#phone-error")).to_contain_text("该主体已被列入黑名单")
    assert sandbox.official_account(oa.appid)["pending_registration"] is not None

    sandbox.set_blacklisted(principal, False)
    expect(page.locator("#admin-refusal")).to_have_count(0, timeout=15_000)
    phone.goto(admin_url + "?wxid=wxid_waiting01")
    phone.click("#confirm-button")
    expect(phone.locator("#confirmation-result")).to_have_attribute("data-status", "confirmed")
    expect(page).to_have_url(re.compile(r"/oa/fastreg/done/\d+$"), timeout=15_000)
