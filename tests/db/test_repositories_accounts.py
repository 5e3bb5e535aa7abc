"""The accounts area's SQL repositories on SQLite and PostgreSQL: what the database guarantees (unique
identifiers and wxids refused without losing the transaction, the login lock that makes concurrent attempts on
one name take turns) and that the queries mean what the in-memory fakes do."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from fastreg.domain.entities import LoginFailure, Registration, WebSession, WechatUser
from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services.accounts import create_official_account
from tests.conftest import START

HOLD = 0.3  # seconds the first transaction keeps its lock


def run_both(first: threading.Thread, second: threading.Thread) -> None:
    first.start()
    second.start()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()


def test_official_account_by_appid(platform: Platform) -> None:
    new = create_official_account(platform, name="公众号", principal_name="某公司", principal_type="enterprise")
    with platform.uow(readonly=True) as uow:
        oa = uow.accounts.official_account(new.appid)
        assert oa.original_id == new.original_id and uow.accounts.find_official_account("wxnone") is None
        assert uow.accounts.principal(oa.principal_id).name == "某公司"
        operator = uow.accounts.operator_with_email(new.operator_email)
        assert operator is not None and uow.accounts.official_account_by_id(operator.oa_id) is oa
        assert uow.accounts.has_official_accounts()
        with pytest.raises(DomainError) as unknown:
            uow.accounts.official_account("wxnone")
        assert unknown.value.err is Err.INVALID_APPID


def test_a_taken_identifier_is_refused_and_the_transaction_goes_on(platform: Platform) -> None:
    with platform.uow() as uow:
        appid, original_id = uow.accounts.new_account_ids()
        uow.accounts.claim_identifier("op@example.com", "email")
        uow.commit()
    with platform.uow() as uow:
        with pytest.raises(DomainError) as taken:
            uow.accounts.claim_identifier("op@example.com", "email")
        assert taken.value.err is Err.EMAIL_TAKEN
        with pytest.raises(DomainError) as taken_appid:
            uow.accounts.claim_identifier(appid, "appid")
        assert taken_appid.value.err is Err.INVALID_APPID
        uow.accounts.claim_identifier("other@example.com", "email")
        uow.accounts.release_identifier(original_id)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert uow.accounts.identifier_taken("other@example.com") and uow.accounts.identifier_taken(appid)
        assert not uow.accounts.identifier_taken(original_id)


def test_sessions_and_login_failures(platform: Platform) -> None:
    def web_session(id_hash: str, kind: str, account_id: int, expires_in: timedelta) -> WebSession:
        return WebSession(
            id_hash=id_hash,
            kind=kind,
            account_id=account_id,
            csrf_token="c",
            created_at=START,
            expires_at=START + expires_in,
        )

    with platform.uow() as uow:
        uow.sessions.add(web_session("a", "phone", 1, timedelta(hours=1)))
        uow.sessions.add(web_session("b", "phone", 2, timedelta(hours=1)))
        uow.sessions.add(web_session("c", "operator", 1, timedelta(hours=1)))
        uow.sessions.add(web_session("old", "operator", 3, timedelta(0)))
        for minutes in (5, 1, 20, 3):
            uow.sessions.add_login_failure(
                LoginFailure(scope="mp", email="x@example.com", at=START + timedelta(minutes=minutes))
            )
        uow.sessions.add_login_failure(LoginFailure(scope="operator", email="x@example.com", at=START))
        uow.commit()
    with platform.uow() as uow:
        since = START + timedelta(minutes=1)
        assert uow.sessions.login_failures("mp", "x@example.com", since) == [
            START + timedelta(minutes=m) for m in (3, 5, 20)
        ]
        uow.sessions.remove_expired(START)
        uow.sessions.remove_sessions_of("phone", 1)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert [uow.sessions.session(h) is not None for h in ("a", "b", "c", "old")] == [False, True, True, False]


def test_concurrent_logins_on_one_name_take_turns_and_see_each_others_failures(platform: Platform) -> None:
    locked = threading.Event()
    seen: list[object] = []

    def first() -> None:
        with platform.uow() as uow:
            uow.sessions.lock_login("operator", "op@example.com")
            locked.set()
            time.sleep(HOLD)
            uow.sessions.add_login_failure(LoginFailure(scope="operator", email="op@example.com", at=START))
            seen.append("first committed")
            uow.commit()

    def second() -> None:
        locked.wait(5)
        with platform.uow() as uow:
            uow.sessions.lock_login("operator", "op@example.com")
            seen.append(uow.sessions.login_failures("operator", "op@example.com", START - timedelta(hours=1)))
            uow.commit()

    run_both(threading.Thread(target=first), threading.Thread(target=second))
    assert seen == ["first committed", [START]]


def test_a_wechat_user_added_by_two_transactions_at_once_is_stored_once(platform: Platform) -> None:
    added = threading.Event()
    answers: list[bool] = []

    def user() -> WechatUser:
        return WechatUser(wxid="wxid_person", password_hash=None, created_at=START)

    def first() -> None:
        with platform.uow() as uow:
            answers.append(uow.wechat_users.add(user()))
            added.set()
            time.sleep(HOLD)
            uow.commit()

    def second() -> None:
        added.wait(5)
        with platform.uow() as uow:
            answers.append(uow.wechat_users.add(user()))
            uow.accounts.claim_identifier("still@example.com", "email")  # the transaction goes on
            uow.commit()

    run_both(threading.Thread(target=first), threading.Thread(target=second))
    assert answers == [True, False]
    with platform.uow(readonly=True) as uow:
        found = uow.wechat_users.user_with_wxid("wxid_person")
        assert found is not None and uow.wechat_users.user(found.id) is found
        assert uow.accounts.identifier_taken("still@example.com")


def test_what_the_accounts_services_read_of_other_areas(platform: Platform) -> None:
    """The methods the accounts services added to other areas' repositories: the pending registration an MP
    owner logs in with, the sandbox's stored version, whether any component exists."""
    new = create_official_account(platform, name="公众号", principal_name="某公司", principal_type="enterprise")
    with platform.uow() as uow:
        oa = uow.accounts.official_account(new.appid)
        for status in ("cancelled", "pending"):
            registration = Registration(
                oa_id=oa.id,
                channel="console",
                status=status,
                email="owner@example.com",
                created_at=START,
                updated_at=START,
            )
            uow.session.add(registration)
            uow.session.flush()
        uow.sandbox_state.set_value("platform_version", {"version": "a"})
        uow.sandbox_state.set_value("platform_version", {"version": "b"})
        assert not uow.components.has_components()
        uow.commit()
    with platform.uow(readonly=True) as uow:
        pending = uow.registrations.pending_with_email("owner@example.com")
        assert pending is not None and pending.id == registration.id and pending.status == "pending"
        assert uow.registrations.pending_with_email("other@example.com") is None
        assert uow.sandbox_state.value("platform_version") == {"version": "b"}
        assert uow.sandbox_state.value("clock") is None
