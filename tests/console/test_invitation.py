"""Step 7's admin invitation on the phone: it invites the person to administer the new Mini Program (named by
the name typed at step 5), tells a wrong person the invitation is not theirs; around it the 添加 chooser offers
继续 to a pending registration, step 3 names the admin who must scan, step 7 drops step 6's notice, page
titles name the brand once, and times are shown in the configured time zone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from fastreg.services import confirmations
from fastreg.settings import settings_from
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.console.helpers import (
    activation_link,
    decode_qr,
    fill_account,
    login,
    make_oa,
    to_account_step,
)

pytestmark = pytest.mark.browser

MP_NAME = "邀请测试小店"


def confirmation_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1].split("?")[0]


def test_the_admin_invitation_names_the_new_mini_program(
    page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="邀请")
    to_account_step(server.platform, oa)
    login(page, oa)
    assert page.title() == "首页 - fastreg"

    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text("填写帐号信息")
    assert page.title() == "快速注册并认证小程序 - fastreg"
    fill_account(page, "invite-mp@example.com", "Invite2026x", "Invite2026x")
    page.fill("#f-mp_name", MP_NAME)
    page.click("#account-submit")
    expect(page.locator("#activation-email")).to_be_visible()

    # The chooser explains the pending registration and offers to continue it.
    page.goto("/oa/miniprograms/add")
    expect(page.locator("#fastreg-refusal")).to_be_visible()
    page.click("#fastreg-continue")
    expect(page.locator("#step-indicator li.current")).to_have_text("邮箱激活")

    # Step 6: a resent mail's notice ...
    sandbox.set_clock(advance_seconds=61)
    page.click("#resend-activation")
    expect(page).to_have_url(re.compile(r"notice=activation_resent"))
    expect(page.locator("#page-notice")).to_be_visible()
    # ... is gone once the activation (on another device) moves the wizard on to step 7 in place.
    phone.goto(activation_link(sandbox, "invite-mp@example.com"))
    expect(page.locator("#admin-form")).to_be_visible(timeout=10_000)
    expect(page).to_have_url(re.compile(r"notice=activation_resent"))
    expect(page.locator("#page-notice")).to_have_count(0)

    page.fill("#f-admin_wxid", oa.admin_wxid)
    page.click("#admin-submit")
    url = decode_qr(page, "#admin-qr")

    phone.goto(f"{url}?wxid={oa.admin_wxid}")
    assert phone.title() == "小程序管理员邀请 - fastreg"
    expect(phone.locator("#confirmation-what")).to_have_text(
        f"公众号「{oa.name}」正在复用资质快速注册小程序「{MP_NAME}」，"
        f"邀请 {oa.admin_wxid} 成为这个新小程序的管理员。确认后小程序注册完成。"
    )
    expect(phone.locator("#invited-to")).to_have_text(MP_NAME)
    phone.goto(f"{url}?wxid={oa.admin_wxid}&lang=en")
    what = phone.locator("#confirmation-what")
    expect(what).to_contain_text(f"is fast-registering the Mini Program “{MP_NAME}” and invites {oa.admin_wxid}")
    expect(what).not_to_contain_text("registered by")

    # Someone else answering is told the invitation is not theirs, not that they are no account's admin.
    phone.goto(f"{url}?wxid=wxid_someone_else&lang=zh")
    phone.click("#confirm-button")
    expect(phone.locator("#phone-error")).to_have_text("这份管理员邀请不是发给你的，无法确认或拒绝。")
    phone.goto(f"{url}?wxid=wxid_someone_else&lang=en")
    phone.click("#confirm-button")
    expect(phone.locator("#phone-error")).to_contain_text("This invitation to become the admin is not addressed to you")
    assert confirmations.describe(server.platform, confirmation_id(url)).status == "pending"


TIMEZONE = "America/Sao_Paulo"  # UTC-3: never the same wall clock as Asia/Shanghai


@pytest.fixture(scope="module")
def sao_paulo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fastreg-tz")
    settings = settings_from(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}",
        data_dir=data_dir,
        sandbox_key="fastreg-tz-key",
        timezone=TIMEZONE,
    )
    live, stop = run_live_server(settings)
    yield live
    stop()


def test_times_follow_the_configured_time_zone_and_step_3_names_the_admin(
    browser: Browser, sao_paulo: LiveServer
) -> None:
    with SandboxClient(sao_paulo.base_url, sao_paulo.sandbox_key) as sandbox:
        sandbox.reset()
        oa = make_oa(sandbox, tag="时区")
    context = browser.new_context(base_url=sao_paulo.base_url, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, oa)
    page.goto("/oa/fastreg/protocol")
    page.check("#agree")
    page.click("#protocol-next")
    who = f"请公众号管理员 {oa.admin_wxid} 使用微信扫描下方二维码，并在手机上确认。"
    expect(page.locator("#scan-who")).to_have_text(who)
    url = decode_qr(page, "#scan-qr")
    expires = confirmations.describe(sao_paulo.platform, confirmation_id(url)).expires_at
    shown = expires.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M")
    assert shown != expires.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    expect(page.locator("#scan-status")).to_contain_text(shown)
    page.goto(f"{url}?wxid={oa.admin_wxid}")
    expect(page.locator("#confirmation")).to_contain_text(shown)
    context.close()
