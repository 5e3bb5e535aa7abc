"""Finding the way back in the browser: an expired login in the middle of the wizard, form URLs opened
directly, validation errors after a redirect (no resubmission), the step-7 admin changed or refreshed, and the
console's own error pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import login, make_oa, to_account_step

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
    login(page, oa)
    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text(STEP5)
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
