"""The platform's fast registration against fastreg: tickets, authorization, registration, refusals, faults."""

from __future__ import annotations

from typing import Any

import pytest
from fastreg.testing import CallbackServer, Faults, SandboxClient
from wechatpy.exceptions import WeChatClientException

from tp_platform import FastRegistration

from .conftest import REDIRECT_DOMAIN, admin_answers

FASTREGISTER = "/cgi-bin/account/fastregister"


def test_the_pushed_ticket_gets_a_component_token(platform: FastRegistration) -> None:
    assert platform.component.access_token


def test_a_fresh_ticket_replaces_the_one_kept(
    platform: FastRegistration, fastreg_sandbox: SandboxClient, fastreg_callback: CallbackServer
) -> None:
    fresh = fastreg_sandbox.issue_verify_ticket(platform.component.component_appid)
    push = fastreg_callback.wait_for(2)[-1]
    message = platform.receive(push.body, push.msg_signature, push.timestamp, push.nonce)
    assert message.verify_ticket == fresh == platform.component.session.get("component_verify_ticket")


def test_the_admin_authorizes_the_platform(
    platform: FastRegistration, oa: dict[str, Any], fastreg_sandbox: SandboxClient
) -> None:
    consent = platform.consent_url(f"https://{REDIRECT_DOMAIN}/authorized", oa["appid"])
    answer = admin_answers(fastreg_sandbox, consent, oa["admin_wxid"])
    assert platform.authorized(answer["redirect_url"]) == oa["appid"]


def test_fast_registration_creates_a_verified_linked_mini_program(
    platform: FastRegistration, authorized_oa: dict[str, Any], agreed: str, fastreg_sandbox: SandboxClient
) -> None:
    mp = platform.register(authorized_oa["appid"], agreed)
    assert mp["verified"] and mp["linked"] and mp["authorizer_appid"] == mp["appid"]
    seen = fastreg_sandbox.mini_program(mp["appid"])
    assert seen["linked_oa"] == authorized_oa["appid"] and seen["created_by_oa"] == authorized_oa["appid"]


def test_the_registration_uses_the_monthly_quota(
    platform: FastRegistration, authorized_oa: dict[str, Any], agreed: str, fastreg_sandbox: SandboxClient
) -> None:
    platform.register(authorized_oa["appid"], agreed)
    quota = fastreg_sandbox.official_account(authorized_oa["appid"])["quota"]
    assert (quota["limit"], quota["used"], quota["remaining"]) == (5, 1, 4)


def test_the_mini_program_is_in_the_link_list(
    platform: FastRegistration, authorized_oa: dict[str, Any], agreed: str
) -> None:
    mp = platform.register(authorized_oa["appid"], agreed)
    assert platform.linked_mini_programs(authorized_oa["appid"]) == [(mp["appid"], 1)]


def test_a_cancelled_confirmation_gives_no_ticket(
    platform: FastRegistration, authorized_oa: dict[str, Any], fastreg_sandbox: SandboxClient
) -> None:
    page = platform.fastregister_url(authorized_oa["appid"], f"https://{REDIRECT_DOMAIN}/registered")
    answer = admin_answers(fastreg_sandbox, page, authorized_oa["admin_wxid"], action="cancel")
    assert answer == {"status": "cancelled", "redirect_url": None}


def test_a_system_error_is_retried(
    platform: FastRegistration, authorized_oa: dict[str, Any], agreed: str, fastreg_faults: Faults
) -> None:
    fastreg_faults.errcode(FASTREGISTER, -1, times=2)
    mp = platform.register(authorized_oa["appid"], agreed)
    assert mp["linked"]
    assert [fault["remaining"] for fault in fastreg_faults.list()] == [0]  # both hit; the third call went through


def test_a_ticket_expires_after_ten_minutes(
    platform: FastRegistration, authorized_oa: dict[str, Any], agreed: str, fastreg_sandbox: SandboxClient
) -> None:
    fastreg_sandbox.set_clock(advance_seconds=601)
    with pytest.raises(WeChatClientException) as refused:
        platform.register(authorized_oa["appid"], agreed)
    assert refused.value.errcode == 61058  # invalid ticket


def test_an_unverified_account_is_refused(platform: FastRegistration, fastreg_sandbox: SandboxClient) -> None:
    oa = fastreg_sandbox.create_official_account(
        name="未认证公众号", principal_name="未认证有限公司", principal_type="enterprise", verified=False
    )
    consent = platform.consent_url(f"https://{REDIRECT_DOMAIN}/authorized", oa["appid"])
    platform.authorized(admin_answers(fastreg_sandbox, consent, oa["admin_wxid"])["redirect_url"])
    page = platform.fastregister_url(oa["appid"], f"https://{REDIRECT_DOMAIN}/registered")
    redirect = admin_answers(fastreg_sandbox, page, oa["admin_wxid"])["redirect_url"]
    with pytest.raises(WeChatClientException) as refused:
        platform.register(oa["appid"], redirect)
    assert refused.value.errcode == 61052  # need to be certified
    assert fastreg_sandbox.official_account(oa["appid"])["quota"]["used"] == 0
