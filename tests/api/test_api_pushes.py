"""Component pushes: encrypted and signed exactly like WeChat (checked and decrypted by the unmodified
wechatpy), verify tickets on demand and every 10 minutes of platform time, authorization events (none for
account/fastregister), retries with backoff when the callback fails, one bad callback never stalling others."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from wechatpy.component import WeChatComponent

from fastreg.adapters import wechat_crypto
from fastreg.adapters.db.models import PushJob
from fastreg.testing import CallbackServer, wechatpy_component
from tests.api.world import Component, World, qr_url, query_param


def wechatpy_for(world: World, component: Component) -> WeChatComponent:
    client: WeChatComponent = wechatpy_component(
        world.live.base_url, component.appid, component.secret, component.token, component.encoding_aes_key
    )
    return client


def messages(world: World, component: Component, callback: CallbackServer, count: int) -> list[Any]:
    client = wechatpy_for(world, component)
    return [push.parse(client) for push in callback.wait_for(count)]


# ---------------------------------------------------------------- the crypto itself


def test_crypto_round_trips_with_wechatpy_both_ways() -> None:
    from wechatpy.crypto import WeChatCrypto

    from fastreg.domain.secrets import new_encoding_aes_key

    key, appid, token = new_encoding_aes_key(), "wx0123456789abcdef", "tok"
    theirs = WeChatCrypto(token, key, appid)
    for size in (0, 1, 11, 12, 31, 32, 33, 64, 1000):
        message = "<xml><A><![CDATA[" + "字" * size + "]]></A></xml>"
        push = wechat_crypto.encrypt_push(token=token, encoding_aes_key=key, appid=appid, message=message, timestamp=1)
        assert theirs.decrypt_message(push.body, push.msg_signature, push.timestamp, push.nonce) == message
        # And what wechatpy encrypts, fastreg decrypts.
        reply = theirs.encrypt_message(message, "12345", "1700000000")
        encrypted = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        again = wechat_crypto.EncryptedPush(
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>", "1700000000", "12345", signature
        )
        assert wechat_crypto.decrypt_push(token=token, encoding_aes_key=key, appid=appid, push=again) == message


def test_crypto_refuses_tampering() -> None:
    import pytest

    from fastreg.domain.secrets import new_encoding_aes_key

    key, appid = new_encoding_aes_key(), "wx0123456789abcdef"
    push = wechat_crypto.encrypt_push(token="t", encoding_aes_key=key, appid=appid, message="<xml/>", timestamp=1)
    with pytest.raises(wechat_crypto.WeChatCryptoError):
        wechat_crypto.decrypt_push(token="other", encoding_aes_key=key, appid=appid, push=push)
    with pytest.raises(wechat_crypto.WeChatCryptoError):
        wechat_crypto.decrypt_push(token="t", encoding_aes_key=key, appid="wxffffffffffffffff", push=push)
    assert len(wechat_crypto.pkcs7_pad(b"x" * 32)) == 64


# ---------------------------------------------------------------- verify tickets


def test_verify_ticket_pushed_on_demand_and_decrypted_by_wechatpy(
    world: World, fastreg_callback: CallbackServer
) -> None:
    component = world.component(token=False, callback_url=fastreg_callback.url)
    ticket = world.sandbox.issue_verify_ticket(component.appid)
    client = wechatpy_for(world, component)
    push = fastreg_callback.wait_for(1)[-1]
    assert push.path == "/wechat/callback" and push.params["encrypt_type"] == "aes"
    message = push.parse(client)
    assert message.type == "component_verify_ticket" and message.verify_ticket == ticket
    assert message.appid == component.appid
    # wechatpy stored the ticket and fetches its component token with it.
    assert client.component_verify_ticket == ticket
    assert client.fetch_access_token()["expires_in"] == 7200


def test_verify_ticket_pushed_every_ten_minutes_of_platform_time(
    world: World, fastreg_callback: CallbackServer
) -> None:
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    component = world.component(token=False, callback_url=fastreg_callback.url)
    time.sleep(1.5)
    assert fastreg_callback.pushes == []
    world.sandbox.set_clock(advance_seconds=600)
    first = messages(world, component, fastreg_callback, 1)[0]
    assert first.type == "component_verify_ticket" and first.verify_ticket != component.verify_ticket
    world.sandbox.set_clock(advance_seconds=600)
    second = messages(world, component, fastreg_callback, 2)[1]
    assert second.verify_ticket != first.verify_ticket
    # The latest pushed ticket is the valid one.
    component.verify_ticket = second.verify_ticket
    assert world.component_token(component)


def test_failed_pushes_are_retried_with_backoff(world: World, fastreg_callback: CallbackServer) -> None:
    component = world.component(token=False, callback_url=fastreg_callback.url)
    fastreg_callback.fail_next(2)
    ticket = world.sandbox.issue_verify_ticket(component.appid)
    started = time.monotonic()
    message = messages(world, component, fastreg_callback, 1)[0]
    assert message.verify_ticket == ticket
    assert time.monotonic() - started >= 2.5  # 1 s then 2 s between the tries
    deadline = time.monotonic() + 5
    while True:  # the outcome is recorded just after the callback answered
        with world.live.platform.uow(readonly=True) as uow:
            job = uow.session.execute(
                select(PushJob).where(PushJob.info_type == "component_verify_ticket")
            ).scalar_one()
        if job.delivered_at is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job.attempts == 3 and job.delivered_at is not None and job.last_error is None


def test_unreachable_callback_keeps_the_push_queued(world: World) -> None:
    component = world.component(token=False, callback_url="http://127.0.0.1:9/nothing-listens-here")
    world.sandbox.issue_verify_ticket(component.appid)
    deadline = time.monotonic() + 10
    job = None
    while time.monotonic() < deadline:
        with world.live.platform.uow(readonly=True) as uow:
            job = uow.session.execute(select(PushJob)).scalar_one_or_none()
        if job is not None and job.attempts >= 2:
            break
        time.sleep(0.2)
    assert job is not None and job.attempts >= 2
    assert job.delivered_at is None and job.last_error


# ---------------------------------------------------------------- authorization events


def test_authorized_event_after_consent(world: World, fastreg_callback: CallbackServer) -> None:
    component = world.component(callback_url=fastreg_callback.url)
    oa = world.oa()
    code = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )["pre_auth_code"]
    page = world.api.get(
        "/cgi-bin/componentloginpage",
        params={
            "component_appid": component.appid,
            "pre_auth_code": code,
            "redirect_uri": "https://thirdparty.example.com/auth",
            "biz_appid": oa.appid,
        },
    )
    url = qr_url(page.text)
    redirect = world.sandbox.scan(url, oa.admin_wxid)["redirect_url"]
    client = wechatpy_for(world, component)
    client.session.set("component_verify_ticket", component.verify_ticket)
    message = fastreg_callback.wait_for(1)[-1].parse(client)
    assert message.type == "authorized"
    assert message.authorizer_appid == oa.appid
    assert message.authorization_code == query_param(redirect, "auth_code")
    # wechatpy exchanged the code itself (parse_message calls query_auth for authorized events).
    assert message.query_auth_result["authorization_info"]["authorizer_appid"] == oa.appid


def test_no_push_after_fastregister_and_moved_permission_event(world: World, fastreg_callback: CallbackServer) -> None:
    """WeChat documents no push for account/fastregister (``notify_third_fasteregister`` belongs to the
    enterprise and personal registration APIs): the answer's authorization code is all the component gets."""
    component = world.component(callback_url=fastreg_callback.url)
    oa = world.oa(principal_name="推送测试有限公司")
    token = world.authorize(component, oa)
    client = wechatpy_for(world, component)
    client.session.set("component_verify_ticket", component.verify_ticket)
    # The sandbox's authorization shortcut is announced like the consent page's.
    authorized = fastreg_callback.wait_for(1)[-1].parse(client)
    assert authorized.type == "authorized" and authorized.authorizer_appid == oa.appid
    fastreg_callback.clear()
    answer = world.fastregister(token, world.ticket(component, oa))
    assert answer["errcode"] == 0
    time.sleep(2.0)  # four polls of the push worker
    assert fastreg_callback.pushes == []
    with world.live.platform.uow(readonly=True) as uow:
        assert uow.session.execute(select(PushJob.info_type)).scalars().all() == ["authorized"]

    # Another component takes the fast-registration set: the first one hears ``updateauthorized``.
    newcomer = world.component()
    world.authorize(newcomer, oa)
    client.session.set("component_verify_ticket", component.verify_ticket)
    moved = fastreg_callback.wait_for(1)[-1].parse(client)
    assert moved.type == "updateauthorized" and moved.authorizer_appid == oa.appid
    func_ids = {f["funcscope_category"]["id"] for f in moved.query_auth_result["authorization_info"]["func_info"]}
    assert 27 not in func_ids


# ---------------------------------------------------------------- what a receiver checks


def test_push_carries_the_plain_signature_receivers_check(world: World, fastreg_callback: CallbackServer) -> None:
    """WeChat's query string: ``signature`` (SHA-1 of the sorted token, timestamp and nonce: silenceper/wechat
    refuses a push without it, EasyWeChat 4/5 decrypt only when it is there), ``timestamp``, ``nonce``,
    ``encrypt_type=aes`` and ``msg_signature``; checked and decrypted with wechatpy's own functions."""
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.utils import check_signature

    component = world.component(token=False, callback_url=fastreg_callback.url)
    ticket = world.sandbox.issue_verify_ticket(component.appid)
    push = fastreg_callback.wait_for(1)[-1]
    assert list(push.params) == ["signature", "timestamp", "nonce", "encrypt_type", "msg_signature"]
    assert push.params["encrypt_type"] == "aes"
    check_signature(component.token, push.params["signature"], push.timestamp, push.nonce)  # raises if wrong
    xml = WeChatCrypto(component.token, component.encoding_aes_key, component.appid).decrypt_message(
        push.body, push.msg_signature, push.timestamp, push.nonce
    )
    assert f"<ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket>" in xml


def job_of(world: World, info_type: str, component_appid: str, done: Any, timeout: float = 10.0) -> PushJob:
    """The component's push job of that type once ``done(job)`` holds (the worker records outcomes just after
    the callback answered)."""
    from fastreg.adapters.db.models import Component as ComponentRow

    deadline = time.monotonic() + timeout
    while True:
        with world.live.platform.uow(readonly=True) as uow:
            job = uow.session.execute(
                select(PushJob)
                .join(ComponentRow, ComponentRow.id == PushJob.component_id)
                .where(PushJob.info_type == info_type, ComponentRow.appid == component_appid)
            ).scalar_one_or_none()
        if (job is not None and done(job)) or time.monotonic() > deadline:
            assert job is not None
            return job
        time.sleep(0.05)


def test_a_2xx_answer_other_than_success_is_delivered_and_noted(world: World, fastreg_callback: CallbackServer) -> None:
    fastreg_callback.reply = b"ok"
    component = world.component(token=False, callback_url=fastreg_callback.url)
    world.sandbox.issue_verify_ticket(component.appid)
    fastreg_callback.wait_for(1)
    job = job_of(world, "component_verify_ticket", component.appid, lambda j: j.delivered_at is not None)
    assert job.delivered_at is not None and job.attempts == 1
    assert job.last_error is not None and "'ok'" in job.last_error and "success" in job.last_error
    time.sleep(1.5)  # not retried
    assert len(fastreg_callback.pushes) == 1


def test_a_callback_url_that_cannot_be_parsed_fails_only_its_push(
    world: World, fastreg_callback: CallbackServer
) -> None:
    """A callback URL that cannot even be parsed (a ValueError, not an HTTP client's error): that push records
    the error and is retried later; the other component's pushes still go out. The sandbox refuses such a URL
    at creation now, so the row is written directly, as one stored before that check would be."""
    from sqlalchemy import update

    from fastreg.adapters.db.models import Component as ComponentRow

    broken = world.component(token=False, callback_url=fastreg_callback.url + "/broken")
    with world.live.platform.uow() as uow:
        uow.session.execute(
            update(ComponentRow).where(ComponentRow.appid == broken.appid).values(callback_url="http://[::1")
        )
        uow.commit()
    healthy = world.component(token=False, callback_url=fastreg_callback.url)
    world.sandbox.issue_verify_ticket(broken.appid)
    ticket = world.sandbox.issue_verify_ticket(healthy.appid)
    message = messages(world, healthy, fastreg_callback, 1)[0]
    assert message.verify_ticket == ticket
    job = job_of(world, "component_verify_ticket", broken.appid, lambda j: j.attempts >= 1)
    assert job.delivered_at is None and job.attempts >= 1
    assert job.last_error is not None and job.last_error.startswith("ValueError: Invalid IPv6 URL")
