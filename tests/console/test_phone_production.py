"""Production mode in a real browser: the QR link alone approves nothing. A stranger holding it (without a
phone session, or logged in as another WeChat user) learns neither who may answer nor how to, and cannot
answer; the rightful admin enrols, logs in and approves, and only the browser that opened the page is sent on
with the authorization code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from fastreg.services import confirmations
from tests.console.helpers import shot
from tests.production import (
    PASSWORD,
    Production,
    accounts_for,
    consent_page_params,
    create_user,
    enrolled_user,
    fastregister_params,
    new_wxid,
    production_server,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    data_dir: Path = tmp_path_factory.mktemp("production-browser")
    with production_server("sqlite", data_dir) as server:
        yield server


@pytest.fixture
def contexts(browser: Browser, production: Production) -> Iterator[Any]:
    opened: list[BrowserContext] = []

    def new(*, phone: bool = True) -> Page:
        size = {"width": 375, "height": 740} if phone else {"width": 1280, "height": 900}
        ctx = browser.new_context(base_url=production.live.base_url, viewport=size, is_mobile=phone, locale="zh-CN")
        ctx.set_default_timeout(15_000)
        opened.append(ctx)
        return ctx.new_page()

    yield new
    for ctx in opened:
        ctx.close()


def post_from(page: Page, path: str, fields: dict[str, str]) -> int:
    """A form post made by the page's own script, with the page's CSRF token: what a stranger could forge; the
    status of the page its redirect (post/redirect/get) ends on."""
    status: int = page.evaluate(
        """async ([path, fields]) => {
            const body = new URLSearchParams(fields);
            body.set("csrf_token", document.querySelector("input[name=csrf_token]").value);
            const answer = await fetch(path, {method: "POST", body});
            return answer.status;
        }""",
        [path, fields],
    )
    return status


def scanstatus(page: Page, confirmation_id: str) -> dict[str, Any]:
    answer = page.request.get("/cgi-bin/scanstatus?id=" + confirmation_id)
    assert answer.headers["cache-control"] == "no-store"
    data: dict[str, Any] = answer.json()
    return data


def test_the_qr_link_alone_approves_nothing_in_production(production: Production, contexts: Any) -> None:
    base = production.live.base_url
    admin = new_wxid("wxid_admin_")
    enrolment = create_user(production.platform, admin)
    stranger, _ = enrolled_user(production, "wxid_stranger_")
    found = accounts_for(production, admin, redirect_domain="127.0.0.1")
    found.redirect_uri = base + "/healthz?from=consent"

    # The component (here, anyone with component credentials) opens the consent page for the OA.
    with production.client() as api:
        params = consent_page_params(api, found)
    desktop = contexts(phone=False)
    desktop.goto("/cgi-bin/componentloginpage?" + urlencode(params))
    url = desktop.get_attribute("#scan-qr", "data-confirmation-url")
    assert url and url.startswith(base + "/m/confirm/")
    path, confirmation_id = url[len(base) :], url.rsplit("/", 1)[1]
    # The QR code is an image the browser loads from the page's own origin (under its CSP): it is drawn.
    assert desktop.locator("#scan-qr").evaluate("image => image.complete && image.naturalWidth > 0")

    # A stranger opens the link without a phone session: a login form, and nobody's wxid.
    intruder = contexts()
    intruder.goto(path)
    expect(intruder.locator("#login-needed")).to_be_visible()
    expect(intruder.locator("#confirm-button")).to_have_count(0)
    assert admin not in intruder.content()
    shot(intruder, "phone-production-login")
    assert post_from(intruder, path, {"wxid": admin, "action": "confirm"}) == 401
    assert confirmations.describe(production.platform, confirmation_id).status == "pending"

    # Logged in as another WeChat user: only that the confirmation is not theirs, in their language.
    intruder.fill("#f-wxid", stranger)
    intruder.fill("#f-password", PASSWORD)
    intruder.click("#phone-login-submit")
    expect(intruder).to_have_url(re.compile(re.escape(path) + "$"))
    expect(intruder.locator("#not-yours")).to_have_text("你不是该帐号的管理员，无权确认")
    expect(intruder.locator("#logged-in-as")).to_have_text(f"已登录：{stranger}")
    expect(intruder.locator("#confirm-button")).to_have_count(0)
    assert admin not in intruder.content()
    shot(intruder, "phone-production-not-yours")
    intruder.click("text=EN")
    expect(intruder.locator("#not-yours")).to_have_text("You are not allowed to answer this confirmation")
    assert admin not in intruder.content()
    assert post_from(intruder, path, {"wxid": admin, "action": "confirm"}) == 403
    assert confirmations.describe(production.platform, confirmation_id).status == "pending"

    # The rightful admin enrols through the operator's link, then opens the QR link and approves.
    phone = contexts()
    phone.goto(enrolment)
    expect(phone.locator("#enrol-intro")).to_contain_text(admin)
    phone.fill("#f-password", PASSWORD)
    phone.fill("#f-password_confirm", PASSWORD)
    phone.click("#enrol-submit")
    expect(phone.locator("#page-notice")).to_be_visible()
    expect(phone.locator("#logged-in-as")).to_have_text(f"已登录：{admin}")
    phone.goto(path)
    expect(phone.locator("#confirmation-what")).to_contain_text("城市晚报")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    shot(phone, "phone-production-confirm")
    phone.click("#confirm-button")
    expect(phone.locator("#result-text")).to_have_text("授权成功。")

    # The page that opened the QR code goes on with the code; the stranger's poll never sees it.
    desktop.wait_for_url("**/healthz?from=consent&auth_code=*", timeout=15_000)
    seen = scanstatus(intruder, confirmation_id)
    assert seen["status"] == "confirmed" and seen["redirect_url"] is None
    # And the enrolment link was used up.
    again = contexts()
    answer = again.goto(enrolment)
    assert answer is not None and answer.status == 400


def test_a_logged_in_admin_is_asked_nothing_more_and_can_switch_user(production: Production, contexts: Any) -> None:
    admin, _ = enrolled_user(production)
    found = accounts_for(production, admin)
    desktop = contexts(phone=False)
    desktop.goto("/cgi-bin/fastregisterauth?" + urlencode(fastregister_params(found)))
    url = desktop.get_attribute("#scan-qr", "data-confirmation-url")
    assert url
    phone = contexts()
    phone.goto(url + "?lang=en")
    phone.fill("#f-wxid", admin)
    phone.fill("#f-password", "Wrong2026pass")
    phone.click("#phone-login-submit")
    expect(phone.locator("#phone-error")).to_have_text("Wrong WeChat id or password")
    expect(phone.locator("#f-wxid")).to_have_value(admin)  # what the person typed is kept
    phone.fill("#f-password", PASSWORD)
    phone.click("#phone-login-submit")
    expect(phone.locator("h1")).to_have_text("Allow a third-party platform to fast-register")
    expect(phone.locator("#confirmation-what")).to_contain_text("城市晚报")
    phone.click("#cancel-button")
    expect(phone.locator("#result-text")).to_have_text("The third-party platform's request was declined.")
    phone.goto(url)
    expect(phone.locator("#confirmation-closed")).to_be_visible()
    phone.click("#logout-button")
    expect(phone.locator("#phone-login-form")).to_be_visible()
    phone.goto(url)
    expect(phone.locator("#login-needed")).to_be_visible()
