"""services/sessions.py on the fake unit of work: logins, signed sessions, CSRF tokens, the lockout, and argon2
kept out of the transactions. (The login lock's database behaviour: tests/db/test_repositories_accounts.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import (
    AuditEvent,
    LoginFailure,
    OfficialAccount,
    Operator,
    Registration,
    WebSession,
    WechatUser,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import RegistrationStatus
from fastreg.services import sessions
from fastreg.services.accounts import create_official_account
from tests.fakes import FakeContext

from .accounts_fakes import START, WatchedPasswords, fake_context

PASSWORD = "Operator2026"
T0 = START
WINDOW = timedelta(minutes=15)


@pytest.fixture
def watched() -> tuple[FakeContext, WatchedPasswords]:
    return fake_context()


@pytest.fixture
def context(watched: tuple[FakeContext, WatchedPasswords]) -> FakeContext:
    return watched[0]


def clock_of(context: FakeContext) -> FixedClock:
    assert isinstance(context.clock, FixedClock)
    return context.clock


def make_operator(context: FakeContext, email: str = "op@example.com") -> str:
    create_official_account(
        context,
        name="公众号",
        principal_name=f"主体-{email}",
        principal_type="enterprise",
        operator_email=email,
        operator_password=PASSWORD,
    )
    return email


def refused(context: FakeContext, scope: str, name: str, password: str) -> DomainError:
    with pytest.raises(DomainError) as failed:
        sessions.login(context, scope, name, password)
    return failed.value


def test_is_locked_boundaries() -> None:
    five = [T0 + timedelta(minutes=i) for i in range(5)]  # the 5th at T0+4min
    assert not sessions.is_locked(five[:4], T0 + timedelta(minutes=4), 5, WINDOW)
    assert sessions.is_locked(five, T0 + timedelta(minutes=4), 5, WINDOW)
    # Locked for 15 minutes from the failure that made five.
    assert sessions.is_locked(five, T0 + timedelta(minutes=18, seconds=59), 5, WINDOW)
    assert not sessions.is_locked(five, T0 + timedelta(minutes=19), 5, WINDOW)
    # Five failures spread over more than 15 minutes do not lock.
    spread = [T0 + timedelta(minutes=4 * i) for i in range(5)]  # 16 minutes from first to last
    assert not sessions.is_locked(spread, T0 + timedelta(minutes=16), 5, WINDOW)
    edge = [T0 + timedelta(minutes=15 * i / 4) for i in range(5)]  # exactly 15 minutes
    assert sessions.is_locked(edge, T0 + timedelta(minutes=15), 5, WINDOW)


def test_login_opens_a_session_with_a_csrf_token(context: FakeContext) -> None:
    email = make_operator(context)
    new = sessions.login(context, sessions.OPERATOR, "  OP@Example.com ", PASSWORD)
    view = sessions.load(context, new.cookie, sessions.OPERATOR)
    assert view is not None and view.csrf_token == new.csrf_token
    identity = sessions.operator_identity(context, view.account_id)
    assert identity is not None and identity.email == email and identity.oa_name == "公众号"
    # Only the hash of the session id is stored; the cookie value is signed.
    [stored] = context.store.all(WebSession)
    assert stored.id_hash not in new.cookie
    assert sessions.load(context, new.cookie + "x", sessions.OPERATOR) is None
    assert sessions.load(context, new.cookie, sessions.MP) is None  # another scope
    sessions.logout(context, new.cookie)
    assert sessions.load(context, new.cookie, sessions.OPERATOR) is None
    assert context.store.all(WebSession) == []


def test_session_expires_and_expired_ones_are_cleared_by_the_next_login(context: FakeContext) -> None:
    make_operator(context)
    new = sessions.login(context, sessions.OPERATOR, "op@example.com", PASSWORD)
    clock_of(context).advance(sessions.SESSION_TTL.total_seconds())
    assert sessions.load(context, new.cookie, sessions.OPERATOR) is None
    sessions.login(context, sessions.OPERATOR, "op@example.com", PASSWORD)
    assert len(context.store.all(WebSession)) == 1


def test_cookie_signed_with_another_key_is_refused(context: FakeContext) -> None:
    make_operator(context)
    new = sessions.login(context, sessions.OPERATOR, "op@example.com", PASSWORD)
    other = sessions.sign(FakeContext(clock=context.clock, secret_key="another-key"), "x" * 32, "session")
    assert sessions.load(context, other, sessions.OPERATOR) is None
    assert sessions.unsign(context, new.cookie, "other-salt") is None


def test_lockout_after_five_failures(context: FakeContext) -> None:
    make_operator(context)
    for _ in range(5):
        assert refused(context, sessions.OPERATOR, "op@example.com", "wrong-1234").err is Err.LOGIN_FAILED
        clock_of(context).advance(60)
    assert refused(context, sessions.OPERATOR, "op@example.com", PASSWORD).err is Err.LOGIN_LOCKED
    clock_of(context).advance(14 * 60 - 1)  # 15 minutes after the 5th failure, minus one second
    assert refused(context, sessions.OPERATOR, "op@example.com", PASSWORD).err is Err.LOGIN_LOCKED
    clock_of(context).advance(1)
    assert sessions.login(context, sessions.OPERATOR, "op@example.com", PASSWORD).csrf_token
    assert len(context.store.all(LoginFailure)) == 5
    failed = [event for event in context.store.all(AuditEvent) if event.kind == "login_failed"]
    assert len(failed) == 5 and failed[0].oa_appid is not None and failed[0].actor == "op@example.com"


def test_unknown_email_fails_like_a_wrong_password_and_is_counted(context: FakeContext) -> None:
    assert refused(context, sessions.OPERATOR, "nobody@example.com", PASSWORD).err is Err.LOGIN_FAILED
    assert refused(context, sessions.MP, "nobody@example.com", PASSWORD).err is Err.LOGIN_FAILED
    assert [(row.scope, row.email) for row in context.store.all(LoginFailure)] == [
        ("operator", "nobody@example.com"),
        ("mp", "nobody@example.com"),
    ]


def test_names_no_account_can_have_are_refused_without_counting(context: FakeContext) -> None:
    assert refused(context, sessions.PHONE, "not a wxid!", PASSWORD).err is Err.LOGIN_FAILED
    assert refused(context, sessions.OPERATOR, "x" * 250 + "@example.com", PASSWORD).err is Err.LOGIN_FAILED
    assert context.store.all(LoginFailure) == []


def test_argon2_runs_outside_the_transactions(watched: tuple[FakeContext, WatchedPasswords]) -> None:
    context, passwords = watched
    make_operator(context)
    sessions.login(context, sessions.OPERATOR, "op@example.com", PASSWORD)
    refused(context, sessions.OPERATOR, "op@example.com", "wrong-1234")
    refused(context, sessions.OPERATOR, "nobody@example.com", PASSWORD)
    assert passwords.inside_transaction == []


def test_failures_of_concurrent_attempts_lock_out_a_right_password(
    watched: tuple[FakeContext, WatchedPasswords],
) -> None:
    """While this attempt's password is checked, five others on the same name fail: it is answered
    LOGIN_LOCKED, so no more than five answers ever tell right from wrong."""
    context, passwords = watched
    make_operator(context)

    def five_failures() -> None:
        for _ in range(5):
            context.store.add(LoginFailure(scope="operator", email="op@example.com", at=context.clock.now()))

    passwords.meanwhile = five_failures
    assert refused(context, sessions.OPERATOR, "op@example.com", PASSWORD).err is Err.LOGIN_LOCKED
    assert context.store.all(WebSession) == []


def test_a_password_changed_during_the_check_does_not_open_a_session(
    watched: tuple[FakeContext, WatchedPasswords],
) -> None:
    context, passwords = watched
    make_operator(context)

    def changed() -> None:
        operator = context.store.all(Operator)[0]
        operator.password_hash = context.passwords.hash("Another2026")

    passwords.meanwhile = changed
    assert refused(context, sessions.OPERATOR, "op@example.com", PASSWORD).err is Err.LOGIN_FAILED
    assert context.store.all(WebSession) == []


def pending_registration(context: FakeContext, *, activated: bool) -> None:
    make_operator(context)
    context.store.add(
        Registration(
            oa_id=context.store.all(OfficialAccount)[0].id,
            channel="console",
            status=RegistrationStatus.PENDING.value,
            email="owner@example.com",
            password_hash=context.passwords.hash("Owner2026pass"),
            email_activated_at=START if activated else None,
            created_at=START,
            updated_at=START,
        )
    )


@pytest.mark.parametrize(("activated", "stage"), [(False, "inactive"), (True, "incomplete")])
def test_an_mp_owner_before_completion_learns_the_stage_only_with_the_password(
    context: FakeContext, activated: bool, stage: str
) -> None:
    pending_registration(context, activated=activated)
    error = refused(context, sessions.MP, "owner@example.com", "Owner2026pass")
    assert error.err is Err.NOT_ACTIVATED and error.params == {"stage": stage}
    assert refused(context, sessions.MP, "owner@example.com", "Wrong2026pass").err is Err.LOGIN_FAILED
    assert context.store.all(WebSession) == []


def test_a_wechat_user_logs_in_on_the_phone_page_once_enrolled(context: FakeContext) -> None:
    user = WechatUser(wxid="wxid_person", password_hash=None, created_at=START)
    context.store.add(user)
    assert refused(context, sessions.PHONE, "wxid_person", PASSWORD).err is Err.LOGIN_FAILED
    user.password_hash = context.passwords.hash(PASSWORD)
    new = sessions.login(context, sessions.PHONE, " wxid_person ", PASSWORD)
    view = sessions.load(context, new.cookie, sessions.PHONE)
    assert view is not None and view.account_id == user.id


def test_csrf_valid() -> None:
    assert sessions.csrf_valid("abc", "abc")
    assert not sessions.csrf_valid("abc", "abd")
    assert not sessions.csrf_valid("abc", None)
    assert not sessions.csrf_valid(None, None)
    assert not sessions.csrf_valid("", "")
