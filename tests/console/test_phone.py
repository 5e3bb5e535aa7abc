"""The phone confirmation page serves every kind of confirmation, at phone width."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from fastreg.services import confirmations, fastregister
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import complete_through_services, decode_qr, login, make_oa, shot

pytestmark = pytest.mark.browser


def test_fastregister_auth_of_a_component_is_confirmed_on_the_phone(
    phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="第三方")
    component = sandbox.create_component(name="快注第三方平台", redirect_domain="tp.example.com")
    view = fastregister.open_auth_page(
        server.platform, oa.appid, component["component_appid"], True, "https://tp.example.com/back"
    )
    phone.goto(view.url + "?wxid=" + oa.admin_wxid)
    expect(phone.locator("h1")).to_have_text("授权第三方平台快速注册小程序")
    expect(phone.locator("#confirmation-what")).to_contain_text("快注第三方平台")
    expect(phone.locator("#confirmation-what")).to_contain_text(oa.name)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    shot(phone, "phone-fastregister-auth")
    phone.click("#confirm-button")
    expect(phone.locator("#result-text")).to_have_text("已授权，第三方平台将继续完成注册。")
    described = confirmations.describe(server.platform, view.id)
    assert described.status == "confirmed"
    assert described.result and "ticket=" in str(described.result["redirect_url"])
    # Answered once: the page says so and offers nothing more.
    phone.goto(view.url + "?wxid=" + oa.admin_wxid)
    expect(phone.locator("#confirmation-closed")).to_have_text("该请求已确认。")
    expect(phone.locator("#confirm-button")).to_have_count(0)


def test_phone_page_in_english_and_unknown_confirmation(
    phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="en")
    component = sandbox.create_component(name="Partner", redirect_domain="tp.example.com")
    view = fastregister.open_auth_page(
        server.platform, oa.appid, component["component_appid"], False, "https://tp.example.com/back"
    )
    phone.goto(view.url + "?lang=en")
    expect(phone.locator("h1")).to_have_text("Allow a third-party platform to fast-register")
    phone.fill("#f-wxid", oa.admin_wxid)
    phone.click("#wxid-submit")
    phone.click("#cancel-button")
    expect(phone.locator("#result-text")).to_have_text("The third-party platform's request was declined.")
    assert confirmations.describe(server.platform, view.id).status == "cancelled"
    response = phone.goto("/m/confirm/no-such-confirmation")
    assert response is not None and response.status == 404


def test_ordinary_link_with_both_admins(page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient) -> None:
    owner = make_oa(sandbox, tag="原主")
    mp_appid = complete_through_services(server.platform, owner, "linked-mp@example.com")
    mp_admin = sandbox.mini_program(mp_appid)["admin_wxid"]
    oa = make_oa(sandbox, tag="关联方")
    login(page, oa)
    page.goto("/oa/miniprograms/add")
    page.click("#choice-link a")
    page.fill("#f-mp_appid", mp_appid)
    page.click("button[type=submit]:has-text('发起关联')")
    url = decode_qr(page, "#link-qr")
    shot(page, "link-oa-admin-qr")
    phone.goto(url + "?wxid=" + oa.admin_wxid)
    expect(phone.locator("h1")).to_have_text("公众号关联小程序")
    phone.click("#confirm-button")
    expect(page.locator("#link-status")).to_have_text("公众号管理员已确认，等待小程序管理员在手机上确认。")
    waiting = sandbox.confirmations(mp_admin)
    assert [c["kind"] for c in waiting] == ["link_mp_admin"]
    phone.goto(waiting[0]["url"] + "?wxid=" + mp_admin)
    expect(phone.locator("#confirmation-what")).to_contain_text(oa.name)
    phone.click("#confirm-button")
    expect(phone.locator("#result-text")).to_have_text("关联成功。")
    page.goto("/oa/miniprograms")
    row = page.locator(f"#linked-mps tr[data-appid='{mp_appid}']")
    expect(row).to_contain_text("关联")
    expect(row).not_to_contain_text("复用资质快速创建")
    # Linking the same MP again is refused next to the field.
    page.goto("/oa/miniprograms/link")
    page.fill("#f-mp_appid", mp_appid)
    page.click("button[type=submit]:has-text('发起关联')")
    expect(page.locator("#error-mp_appid")).to_have_text("已关联该小程序")
    # Unlinking keeps the Mini Program.
    page.goto("/oa/miniprograms")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#linked-mps tr[data-appid='{mp_appid}'] .unlink").click()
    expect(page.locator("#page-notice")).to_have_text("已解除关联。")
    expect(page.locator(f"#linked-mps tr[data-appid='{mp_appid}']")).to_have_count(0)
    assert sandbox.mini_program(mp_appid)["appid"] == mp_appid
