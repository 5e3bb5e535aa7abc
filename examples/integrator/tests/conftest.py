"""Fixtures of the example platform's suite: fastreg's pytest plugin (a live fastreg, its sandbox, a callback
server, faults) and the platform's code pointed at fastreg."""

from __future__ import annotations

from typing import Any

import pytest
from fastreg.testing import CallbackServer, SandboxClient, scan_url_from_page

from tp_platform import FastRegistration

pytest_plugins = ["fastreg.testing"]

REDIRECT_DOMAIN = "tp.example.com"


@pytest.fixture
def oa(fastreg_sandbox: SandboxClient) -> dict[str, Any]:
    """A verified enterprise Official Account; its admin is ``oa["admin_wxid"]``."""
    account: dict[str, Any] = fastreg_sandbox.create_official_account(
        name="示例公众号", principal_name="示例科技有限公司", principal_type="enterprise"
    )
    return account


@pytest.fixture
def platform(
    fastreg_sandbox: SandboxClient, fastreg_base_url: str, fastreg_callback: CallbackServer
) -> FastRegistration:
    """The platform under test, with the component_verify_ticket fastreg pushed to its callback URL."""
    c = fastreg_sandbox.create_component(
        name="示例第三方平台", redirect_domain=REDIRECT_DOMAIN, callback_url=fastreg_callback.url
    )
    registration = FastRegistration(
        c["component_appid"], c["component_appsecret"], c["token"], c["encoding_aes_key"], base_url=fastreg_base_url
    )
    registration.start_push_ticket()
    [push] = fastreg_callback.wait_for(1)
    registration.receive(push.body, push.msg_signature, push.timestamp, push.nonce)
    return registration


def admin_answers(sandbox: SandboxClient, page_url: str, wxid: str, action: str = "confirm") -> dict[str, Any]:
    """The admin scans the QR code of the page at ``page_url`` with WeChat and confirms (or cancels)."""
    answer: dict[str, Any] = sandbox.scan(scan_url_from_page(sandbox.open_page(page_url)), wxid, action)
    return answer


@pytest.fixture
def authorized_oa(platform: FastRegistration, oa: dict[str, Any], fastreg_sandbox: SandboxClient) -> dict[str, Any]:
    """``oa``, having authorized the platform on the consent page."""
    consent = platform.consent_url(f"https://{REDIRECT_DOMAIN}/authorized", oa["appid"])
    platform.authorized(admin_answers(fastreg_sandbox, consent, oa["admin_wxid"])["redirect_url"])
    return oa


@pytest.fixture
def agreed(platform: FastRegistration, authorized_oa: dict[str, Any], fastreg_sandbox: SandboxClient) -> str:
    """The fastregisterauth redirect URL (with its ticket) after the admin agreed to a fast registration."""
    page = platform.fastregister_url(authorized_oa["appid"], f"https://{REDIRECT_DOMAIN}/registered")
    answer = admin_answers(fastreg_sandbox, page, authorized_oa["admin_wxid"])
    assert answer["status"] == "confirmed"
    redirect: str = answer["redirect_url"]
    return redirect
