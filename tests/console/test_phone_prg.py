"""The phone confirmation page answers with post/redirect/get: the answer's POST redirects to its result page
(a reload does not post again), a refused answer back to the confirmation page, which says why once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fastreg.services import confirmations, registration
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import make_oa, operator_id

pytestmark = pytest.mark.browser


def scan_url(server: LiveServer, sandbox: SandboxClient) -> tuple[str, str]:
    """A registration's admin scan waiting on the phone: (its URL, the OA admin's wxid)."""
    oa = make_oa(sandbox, tag="重定向")
    op_id, oa_id = operator_id(server.platform, oa.email)
    view = registration.start(server.platform, op_id)
    return registration.new_scan(server.platform, oa_id, view.id).url, oa.admin_wxid


def test_answering_on_the_phone_redirects_to_the_result(
    phone: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    url, admin = scan_url(server, sandbox)
    cid = url.rsplit("/", 1)[1]

    # Someone else: redirected back to the page, which says why once (403), then no more.
    phone.goto(f"{url}?wxid=wxid_stranger02")
    with phone.expect_response(re.compile(rf"/m/confirm/{cid}$")) as posted:
        phone.click("#confirm-button")
    assert posted.value.status == 303
    assert posted.value.headers["location"] == f"/m/confirm/{cid}?wxid=wxid_stranger02"
    expect(phone.locator("#phone-error")).to_have_text("你不是该帐号的管理员，无权确认")
    reloaded = phone.reload()
    assert reloaded is not None and reloaded.status == 200
    expect(phone.locator("#phone-error")).to_have_count(0)
    assert confirmations.describe(server.platform, cid).status == "pending"

    # The admin: the answer's page is a GET of its own; reloading it shows the outcome again, posting nothing.
    phone.goto(f"{url}?wxid={admin}")
    with phone.expect_response(re.compile(rf"/m/confirm/{cid}$")) as posted:
        phone.click("#confirm-button")
    assert posted.value.status == 303
    expect(phone).to_have_url(f"{server.base_url}/m/confirm/{cid}/result?wxid={admin}")
    expect(phone.locator("#confirmation-result")).to_have_attribute("data-status", "confirmed")
    methods: list[str] = []
    phone.on("request", lambda request: methods.append(request.method))
    reloaded = phone.reload()
    assert reloaded is not None and reloaded.status == 200
    expect(phone.locator("#confirmation-result")).to_have_attribute("data-status", "confirmed")
    assert "POST" not in methods
    assert confirmations.describe(server.platform, cid).status == "confirmed"

    # The result is the answerer's: anyone else is sent to the confirmation page, which says it is closed.
    phone.goto(f"/m/confirm/{cid}/result?wxid=wxid_stranger02")
    expect(phone).to_have_url(f"{server.base_url}/m/confirm/{cid}?wxid=wxid_stranger02")
    expect(phone.locator("#confirmation-closed")).to_have_text("该请求已确认。")
