"""Details of the console's pages: every error of step 5 at once, the focus and ARIA attributes on bad fields,
the eligibility wording, the quota line of OAs that cannot fast-register, and English names."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import fill_account, login, make_oa, open_wizard, to_account_step

pytestmark = pytest.mark.browser


def test_step5_shows_every_error_at_once_and_focuses_the_first(
    page: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="全部错误")
    to_account_step(server.platform, oa)
    open_wizard(page, oa, "填写帐号信息")
    page.click("#account-submit")  # nothing typed
    expect(page.locator("#error-email")).to_have_text("请填写邮箱")
    expect(page.locator("#error-password")).to_have_text("请填写密码")
    expect(page.locator("#error-password_confirm")).to_have_text("请填写确认密码")
    expect(page.locator("#f-email")).to_be_focused()
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-email")).to_have_attribute("aria-describedby", "hint-email error-email")
    expect(page.locator("#f-mp_name")).not_to_have_attribute("aria-invalid", "true")
    fill_account(page, "bad-address", "short", "shorter")
    page.click("#account-submit")
    expect(page.locator("#error-email")).to_have_text("邮箱格式不正确")
    expect(page.locator("#error-password")).to_have_text("密码至少8位，且须同时包含字母和数字")
    expect(page.locator("#error-password_confirm")).to_have_text("两次输入的密码不一致")
    expect(page.locator("#f-email")).to_be_focused()
    # Only the password wrong: the focus goes to it.
    fill_account(page, "all-errors@example.com", "short", "short")
    page.click("#account-submit")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.locator("#f-password")).to_be_focused()
    expect(page.locator("#f-email")).not_to_have_attribute("aria-invalid", "true")
    # English.
    page.goto("/oa/fastreg?lang=en")
    page.click("#account-submit")
    expect(page.locator("#error-email")).to_have_text("Please fill in “Email”")
    assert sandbox.official_account(oa.appid)["pending_registration"] is None  # still at step 5
    assert sandbox.mail("all-errors@example.com") == []


@pytest.mark.parametrize(
    ("principal_type", "verified", "reason", "reason_en"),
    [
        ("enterprise", False, "公众号未认证", "The Official Account is not verified"),
        ("personal", True, "个人主体的公众号不支持快速注册小程序", None),
    ],
)
def test_an_oa_that_cannot_fast_register_is_not_offered_a_quota(
    page: Page, sandbox: SandboxClient, principal_type: str, verified: bool, reason: str, reason_en: str | None
) -> None:
    oa = make_oa(sandbox, principal_type=principal_type, verified=verified, tag="无额度")
    login(page, oa)
    page.goto("/oa/miniprograms")
    expect(page.locator("#quota-line")).to_have_text(f"本公众号当前不能复用资质快速创建小程序：{reason}")
    expect(page.locator("body")).not_to_contain_text("本月还可复用资质快速创建")
    page.goto("/oa/fastreg")
    expect(page.locator("#eligibility-refusal")).to_have_text(f"当前不能快速注册：{reason}")
    if reason_en:
        page.goto("/oa/fastreg?lang=en")
        expect(page.locator("#eligibility-refusal")).to_have_text(f"Fast registration is not possible now: {reason_en}")
    if principal_type == "personal":
        page.goto("/oa?lang=en")
        expect(page.locator("dl.facts")).to_contain_text("(Personal)")
        expect(page.locator("dl.facts")).not_to_contain_text("Individual")
