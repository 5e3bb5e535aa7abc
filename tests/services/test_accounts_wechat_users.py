"""services/wechat_users.py on the fake unit of work: creation, one-time enrolment links, enrolment."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import Credential, WebSession, WechatUser
from fastreg.domain.errors import DomainError, Err
from fastreg.services import sessions, wechat_users
from tests.fakes import FakeContext

from .accounts_fakes import START, WatchedPasswords, fake_context

PASSWORD = "Person2026pass"


@pytest.fixture
def watched() -> tuple[FakeContext, WatchedPasswords]:
    return fake_context("production")


@pytest.fixture
def context(watched: tuple[FakeContext, WatchedPasswords]) -> FakeContext:
    return watched[0]


def token_of(new: wechat_users.NewWechatUser) -> str:
    prefix = "http://testserver" + wechat_users.ENROL_PATH
    assert new.enrolment_url.startswith(prefix)
    return new.enrolment_url.removeprefix(prefix)


def refused(call: Callable[..., object], *args: object) -> Err:
    with pytest.raises(DomainError) as error:
        call(*args)
    return error.value.err


def test_a_new_wechat_user_has_no_password_and_a_one_time_link(context: FakeContext) -> None:
    new = wechat_users.create(context, "wxid_person")
    [user] = context.store.all(WechatUser)
    assert (user.wxid, user.password_hash, user.enrolled_at) == ("wxid_person", None, None)
    token = token_of(new)
    [link] = context.store.all(Credential)
    assert link.token_hash == secrets.token_hash(token) and link.subject == "wxid_person"
    assert new.expires_at == link.expires_at == START + timedelta(seconds=context.settings.enrolment_ttl_seconds)
    assert wechat_users.enrolment_wxid(context, token) == "wxid_person"


def test_a_wechat_user_is_created_once(context: FakeContext) -> None:
    wechat_users.create(context, "wxid_person")
    with pytest.raises(wechat_users.WechatUserExists):
        wechat_users.create(context, "wxid_person")
    assert len(context.store.all(WechatUser)) == 1 and len(context.store.all(Credential)) == 1
    assert refused(wechat_users.create, context, "not a wxid!") is Err.WXID_INVALID


def test_enrolment_sets_the_password_opens_a_session_and_uses_the_link_up(
    watched: tuple[FakeContext, WatchedPasswords],
) -> None:
    context, passwords = watched
    token = token_of(wechat_users.create(context, "wxid_person"))
    new = wechat_users.enrol(context, token, PASSWORD, PASSWORD)
    view = sessions.load(context, new.cookie, sessions.PHONE)
    assert view is not None and wechat_users.wxid_of(context, view.account_id) == "wxid_person"
    [user] = context.store.all(WechatUser)
    assert user.enrolled_at == START and context.passwords.verify(user.password_hash, PASSWORD)
    assert passwords.inside_transaction == []  # hashed before the transaction
    assert refused(wechat_users.enrol, context, token, PASSWORD, PASSWORD) is Err.ACTIVATION_INVALID
    assert refused(wechat_users.enrolment_wxid, context, token) is Err.ACTIVATION_INVALID
    assert sessions.login(context, sessions.PHONE, "wxid_person", PASSWORD).csrf_token


def test_an_expired_or_unknown_link_is_refused(context: FakeContext) -> None:
    token = token_of(wechat_users.create(context, "wxid_person"))
    assert refused(wechat_users.enrolment_wxid, context, "unknown") is Err.ACTIVATION_INVALID
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(context.settings.enrolment_ttl_seconds)
    assert refused(wechat_users.enrolment_wxid, context, token) is Err.ACTIVATION_EXPIRED
    assert refused(wechat_users.enrol, context, token, PASSWORD, PASSWORD) is Err.ACTIVATION_EXPIRED
    assert context.store.all(WechatUser)[0].password_hash is None


def test_a_mismatched_confirmation_is_refused_before_any_work(watched: tuple[FakeContext, WatchedPasswords]) -> None:
    context, passwords = watched
    token = token_of(wechat_users.create(context, "wxid_person"))
    with pytest.raises(DomainError):
        wechat_users.enrol(context, token, PASSWORD, PASSWORD + "x")
    assert passwords.cheap_asked == [] and context.store.all(WechatUser)[0].password_hash is None


def test_a_new_link_replaces_the_unused_one_and_a_new_password_ends_the_old_sessions(context: FakeContext) -> None:
    first = token_of(wechat_users.create(context, "wxid_person"))
    old_session = wechat_users.enrol(context, first, PASSWORD, PASSWORD)
    unused = token_of(wechat_users.new_enrolment_link(context, "wxid_person"))
    latest = token_of(wechat_users.new_enrolment_link(context, " wxid_person "))
    assert refused(wechat_users.enrolment_wxid, context, unused) is Err.ACTIVATION_INVALID
    # The password in place keeps working until a new one is set.
    assert sessions.login(context, sessions.PHONE, "wxid_person", PASSWORD).csrf_token
    new = wechat_users.enrol(context, latest, "Another2026pass", "Another2026pass")
    assert sessions.load(context, old_session.cookie, sessions.PHONE) is None
    assert sessions.load(context, new.cookie, sessions.PHONE) is not None
    assert len(context.store.all(WebSession)) == 1
    assert refused(wechat_users.new_enrolment_link, context, "wxid_nobody") is Err.NOT_FOUND
