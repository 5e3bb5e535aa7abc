"""services/sessions.py on SQLite and PostgreSQL: logins, signed DB-backed sessions, CSRF tokens, lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fastreg.adapters.db.models import LoginFailure, WebSession
from fastreg.domain.clock import FixedClock
from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services import sessions
from fastreg.services.accounts import create_official_account

PASSWORD = "Operator2026"
T0 = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def make_operator(platform: Platform, email: str = "op@example.com") -> str:
    with platform.uow() as uow:
        create_official_account(
            uow,
            name="公众号",
            principal_name=f"主体-{email}",
            principal_type="enterprise",
            operator_email=email,
            operator_password=PASSWORD,
        )
    return email


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


def test_login_opens_a_session_with_a_csrf_token(platform: Platform) -> None:
    email = make_operator(platform)
    new = sessions.login(platform, sessions.OPERATOR, "  OP@Example.com ", PASSWORD)
    view = sessions.load(platform, new.cookie, sessions.OPERATOR)
    assert view is not None and view.csrf_token == new.csrf_token
    identity = sessions.operator_identity(platform, view.account_id)
    assert identity is not None and identity.email == email
    # Only the hash of the session id is stored; the cookie value is signed.
    with platform.uow(readonly=True) as uow:
        stored = uow.session.execute(select(WebSession.id_hash)).scalars().all()
    assert len(stored) == 1 and stored[0] not in new.cookie
    assert sessions.load(platform, new.cookie + "x", sessions.OPERATOR) is None
    assert sessions.load(platform, new.cookie, sessions.MP) is None  # another scope
    sessions.logout(platform, new.cookie)
    assert sessions.load(platform, new.cookie, sessions.OPERATOR) is None


def test_session_expires(platform: Platform, clock: FixedClock) -> None:
    make_operator(platform)
    new = sessions.login(platform, sessions.OPERATOR, "op@example.com", PASSWORD)
    clock.advance(sessions.SESSION_TTL.total_seconds())
    assert sessions.load(platform, new.cookie, sessions.OPERATOR) is None


def test_cookie_signed_with_another_key_is_refused(platform: Platform) -> None:
    make_operator(platform)
    new = sessions.login(platform, sessions.OPERATOR, "op@example.com", PASSWORD)
    other = sessions.sign(Platform(**{**platform.__dict__, "secret_key": "another-key"}), "x" * 32, "session")
    assert sessions.load(platform, other, sessions.OPERATOR) is None
    assert sessions.unsign(platform, new.cookie, "other-salt") is None


def test_lockout_after_five_failures(platform: Platform, clock: FixedClock) -> None:
    make_operator(platform)
    for _ in range(5):
        with pytest.raises(DomainError) as failed:
            sessions.login(platform, sessions.OPERATOR, "op@example.com", "wrong-1234")
        assert failed.value.err is Err.LOGIN_FAILED
        clock.advance(60)
    with pytest.raises(DomainError) as locked:
        sessions.login(platform, sessions.OPERATOR, "op@example.com", PASSWORD)
    assert locked.value.err is Err.LOGIN_LOCKED
    clock.advance(14 * 60 - 1)  # 15 minutes after the 5th failure, minus one second
    with pytest.raises(DomainError):
        sessions.login(platform, sessions.OPERATOR, "op@example.com", PASSWORD)
    clock.advance(1)
    assert sessions.login(platform, sessions.OPERATOR, "op@example.com", PASSWORD).csrf_token
    with platform.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 5


def test_unknown_email_fails_like_a_wrong_password(platform: Platform) -> None:
    with pytest.raises(DomainError) as failed:
        sessions.login(platform, sessions.OPERATOR, "nobody@example.com", PASSWORD)
    assert failed.value.err is Err.LOGIN_FAILED
    with pytest.raises(DomainError) as failed:
        sessions.login(platform, sessions.MP, "nobody@example.com", PASSWORD)
    assert failed.value.err is Err.LOGIN_FAILED


def test_csrf_valid() -> None:
    assert sessions.csrf_valid("abc", "abc")
    assert not sessions.csrf_valid("abc", "abd")
    assert not sessions.csrf_valid("abc", None)
    assert not sessions.csrf_valid(None, None)
    assert not sessions.csrf_valid("", "")
