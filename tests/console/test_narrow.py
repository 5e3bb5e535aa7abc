"""The wizard at phone width (375 px): the other branch (no certification reuse, the operator as admin),
confirmations answered through the sandbox scan API with the URL read from the QR on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import activation_link, decode_qr, login, make_oa, shot

pytestmark = pytest.mark.browser


def no_sideways_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_wizard_at_375px_with_the_operator_as_admin(
    browser: Browser, server: LiveServer, sandbox: SandboxClient
) -> None:
    context = browser.new_context(base_url=server.base_url, viewport={"width": 375, "height": 800}, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    oa = make_oa(sandbox, tag="窄屏")
    login(page, oa)
    page.goto("/oa/miniprograms")
    no_sideways_scroll(page)
    shot(page, "narrow-00-miniprograms")
    page.goto("/oa/fastreg/protocol")
    page.check("#agree")
    page.click("#protocol-next")
    no_sideways_scroll(page)
    shot(page, "narrow-03-admin-scan")
    sandbox.scan(decode_qr(page, "#scan-qr"), oa.admin_wxid)
    expect(page.locator("#reuse-certification")).to_be_visible(timeout=10_000)
    page.uncheck("#reuse-certification")
    page.check("#reuse-operator")
    no_sideways_scroll(page)
    page.click("#qualifications-next")
    # Back from step 5 to step 4 shows the choices as they were left; on again changes nothing else.
    page.click("#account-back")
    expect(page.locator("#qualifications-form")).to_be_visible()
    expect(page.locator("#reuse-certification")).not_to_be_checked()
    expect(page.locator("#reuse-operator")).to_be_checked()
    page.click("#qualifications-next")
    page.fill("#f-email", "narrow-mp@example.com")
    page.fill("#f-password", "Narrow2026x")
    page.fill("#f-password_confirm", "Narrow2026y")
    page.click("#account-submit")
    expect(page.locator("#error-password_confirm")).to_have_text("两次输入的密码不一致")
    no_sideways_scroll(page)
    shot(page, "narrow-05-account-error")
    page.fill("#f-password", "Narrow2026x")
    page.fill("#f-password_confirm", "Narrow2026x")
    page.click("#account-submit")
    # Change the email at step 6 (a minute after the first mail: one mail a minute): the new address gets
    # the link; the old one is free again.
    expect(page.locator("#activation-email")).to_contain_text("narrow-mp@example.com")
    sandbox.set_clock(advance_seconds=61)
    page.fill("#f-email", "narrow-mp2@example.com")
    page.click("#change-email")
    expect(page.locator("#activation-email")).to_contain_text("narrow-mp2@example.com")
    no_sideways_scroll(page)
    shot(page, "narrow-06-activation")
    page.goto(activation_link(sandbox, "narrow-mp2@example.com"))
    expect(page.locator("#admin-operator")).to_be_checked()
    no_sideways_scroll(page)
    shot(page, "narrow-07-bind-admin")
    page.click("#admin-submit")
    sandbox.scan(decode_qr(page, "#admin-qr"), oa.admin_wxid)
    expect(page.locator("#new-appid")).to_be_visible(timeout=10_000)
    no_sideways_scroll(page)
    shot(page, "narrow-08-success")
    appid = page.locator("#new-appid").inner_text()
    mp = sandbox.mini_program(appid)
    assert mp["certified"] is False
    assert mp["admin_wxid"] == oa.admin_wxid
    assert mp["email"] == "narrow-mp2@example.com"
    context.close()
