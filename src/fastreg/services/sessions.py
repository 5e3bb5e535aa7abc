"""Console sessions: logins of OA operators, MP owners and (production) the WeChat users of the phone page
(argon2), sessions kept in the database and referenced by a signed cookie, a CSRF token per session, and the
login lockout (5 failures in 15 minutes lock that email or wxid for 15 minutes), counted in the database so
every worker agrees."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import locks
from fastreg.adapters.db.models import (
    LoginFailure,
    MiniProgram,
    OfficialAccount,
    Operator,
    Registration,
    WebSession,
    WechatUser,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, RegistrationStatus
from fastreg.domain.rules import EMAIL_MAX_LENGTH, WXID, normalize_email
from fastreg.platform import Platform
from fastreg.services import audit

OPERATOR = "operator"
MP = "mp"
PHONE = "phone"  # a WeChat user on the phone page (production); the login name is the wxid
SESSION_TTL = timedelta(hours=12)


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this hash when the email is unknown keeps the answer time independent of the account.
    Made on first use, not at import: it costs an argon2 hash, which start-up need not pay."""
    return crypto.hash_password("not-a-real-password-0")


@dataclass(frozen=True)
class SessionView:
    kind: str
    account_id: int
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the signed value to put in the cookie
    csrf_token: str


def _signer(platform: Platform, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(platform.secret_key, salt=salt)


def sign(platform: Platform, value: str, salt: str) -> str:
    return _signer(platform, salt).dumps(value)


def unsign(platform: Platform, signed: str | None, salt: str) -> str | None:
    if not signed:
        return None
    try:
        value = _signer(platform, salt).loads(signed)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def is_locked(failures: list[datetime], now: datetime, max_failures: int, window: timedelta) -> bool:
    """Locked while less than ``window`` has passed since a failure that completed ``max_failures``
    failures within ``window``. ``failures`` sorted oldest first."""
    if max_failures <= 0:
        return False
    for index in range(max_failures - 1, len(failures)):
        last = failures[index]
        if last - failures[index - max_failures + 1] <= window and now - last < window:
            return True
    return False


def _recent_failures(platform: Platform, session: Session, scope: str, email: str, now: datetime) -> list[datetime]:
    window = timedelta(seconds=platform.settings.login_window_seconds)
    rows = session.execute(
        select(LoginFailure.at)
        .where(LoginFailure.scope == scope, LoginFailure.email == email, LoginFailure.at > now - 2 * window)
        .order_by(LoginFailure.at)
    ).scalars()
    return list(rows)


def login(platform: Platform, scope: str, email: str, password: str) -> NewSession:
    """Check the email and password of an operator (``scope="operator"``) or an MP owner (``"mp"``), or the
    wxid and password of a WeChat user (``"phone"``), and open a session. Raises LOGIN_LOCKED, LOGIN_FAILED
    or (MP before activation) NOT_ACTIVATED."""
    address = email.strip() if scope == PHONE else normalize_email(email)
    if scope == PHONE and not WXID.match(address):
        raise DomainError(Err.LOGIN_FAILED, field="password")  # no such user can exist: nothing to count
    if len(address) > EMAIL_MAX_LENGTH:  # no account has such an address: nothing to look up or to count
        crypto.verify_password(_dummy_hash(), password)
        raise DomainError(Err.LOGIN_FAILED, field="password")
    settings = platform.settings
    window = timedelta(seconds=settings.login_window_seconds)
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        # Concurrent attempts on one login name take turns: each sees the failures of those before it, so no
        # more than ``login_max_failures`` wrong passwords are ever tried before the lock.
        locks.lock_name(session, f"login:{scope}:{address}")
        failures = _recent_failures(platform, session, scope, address, now)
        if is_locked(failures, now, settings.login_max_failures, window):
            raise DomainError(Err.LOGIN_LOCKED, field="email")
        account_id: int | None = None
        password_hash: str | None = None
        oa_appid: str | None = None
        mp_appid: str | None = None
        active = True
        activated = False
        if scope == OPERATOR:
            operator = session.execute(select(Operator).where(Operator.email == address)).scalar_one_or_none()
            if operator is not None:
                account_id, password_hash = operator.id, operator.password_hash
                oa_appid = session.execute(
                    select(OfficialAccount.appid).where(OfficialAccount.id == operator.oa_id)
                ).scalar_one()
        elif scope == MP:
            mp = session.execute(select(MiniProgram).where(MiniProgram.email == address)).scalar_one_or_none()
            if mp is not None:
                account_id, password_hash, active, mp_appid = mp.id, mp.password_hash, mp.active, mp.appid
            else:
                # Not an MP yet: a registration still waiting for activation or for its admin.
                pending = _pending_registration(session, address)
                if pending is not None:
                    account_id, password_hash, active = 0, pending.password_hash, False
                    activated = pending.email_activated_at is not None
                    oa_appid = session.execute(
                        select(OfficialAccount.appid).where(OfficialAccount.id == pending.oa_id)
                    ).scalar_one()
        elif scope == PHONE:
            user = session.execute(select(WechatUser).where(WechatUser.wxid == address)).scalar_one_or_none()
            if user is not None:
                account_id, password_hash = user.id, user.password_hash
        else:
            raise ValueError(scope)
        if not crypto.verify_password(password_hash or _dummy_hash(), password) or account_id is None:
            session.add(LoginFailure(scope=scope, email=address, at=now))
            audit.record(
                session, now, AuditKind.LOGIN_FAILED, address, oa_appid=oa_appid, mp_appid=mp_appid, scope=scope
            )
            uow.commit()
            raise DomainError(Err.LOGIN_FAILED, field="password")
        if not active:
            # Only someone who knows the password learns how far the registration is.
            raise DomainError(Err.NOT_ACTIVATED, field="email", stage="incomplete" if activated else "inactive")
        new = open_session(platform, session, now, scope, account_id)
        uow.commit()
    return new


def open_session(platform: Platform, session: Session, now: datetime, scope: str, account_id: int) -> NewSession:
    """A new session of ``account_id`` in the caller's transaction (after a login, or an enrolment)."""
    raw, csrf = crypto.new_token(), crypto.new_token()
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.add(
        WebSession(
            id_hash=crypto.token_hash(raw),
            kind=scope,
            account_id=account_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    return NewSession(cookie=sign(platform, raw, "session"), csrf_token=csrf)


def _pending_registration(session: Session, email: str) -> Registration | None:
    return session.execute(
        select(Registration)
        .where(Registration.email == email, Registration.status == RegistrationStatus.PENDING.value)
        .order_by(Registration.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def load(platform: Platform, cookie: str | None, scope: str) -> SessionView | None:
    """The live session a cookie refers to, or None (missing, forged, expired or of another scope)."""
    raw = unsign(platform, cookie, "session")
    if raw is None:
        return None
    with platform.uow(readonly=True) as uow:
        row = uow.session.get(WebSession, crypto.token_hash(raw))
        if row is None or row.kind != scope or row.expires_at <= uow.clock.now():
            return None
        return SessionView(row.kind, row.account_id, row.csrf_token, row.expires_at)


def logout(platform: Platform, cookie: str | None) -> None:
    raw = unsign(platform, cookie, "session")
    if raw is None:
        return
    with platform.uow() as uow:
        uow.session.execute(delete(WebSession).where(WebSession.id_hash == crypto.token_hash(raw)))
        uow.commit()


def csrf_valid(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and crypto.secrets_equal(str(expected), str(given))


@dataclass(frozen=True)
class OperatorIdentity:
    operator_id: int
    email: str
    wxid: str | None
    oa_id: int
    oa_appid: str
    oa_name: str


def operator_identity(platform: Platform, operator_id: int) -> OperatorIdentity | None:
    with platform.uow(readonly=True) as uow:
        operator = uow.session.get(Operator, operator_id)
        if operator is None:
            return None
        oa = uow.session.get(OfficialAccount, operator.oa_id)
        assert oa is not None
        return OperatorIdentity(operator.id, operator.email, operator.wxid, oa.id, oa.appid, oa.name)
