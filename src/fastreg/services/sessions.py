"""Console sessions: logins of OA operators, MP owners and (production) the WeChat users of the phone page
(argon2), sessions kept in the database and referenced by a signed cookie, a CSRF token per session, and the
login lockout (5 failures in 15 minutes lock that email or wxid for 15 minutes), counted in the database so
every worker agrees."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from fastreg.domain import secrets
from fastreg.domain.entities import LoginFailure, WebSession
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind
from fastreg.domain.rules import EMAIL_MAX_LENGTH, WXID, normalize_email
from fastreg.services import audit
from fastreg.services.ports import Context, PasswordHasher, UnitOfWork

OPERATOR = "operator"
MP = "mp"
PHONE = "phone"  # a WeChat user on the phone page (production); the login name is the wxid
SESSION_TTL = timedelta(hours=12)


_dummy_hashes: weakref.WeakKeyDictionary[PasswordHasher, str] = weakref.WeakKeyDictionary()


def _dummy_hash(passwords: PasswordHasher) -> str:
    """Verifying against this hash when the login name is unknown keeps the answer time independent of the
    account. Made on first use, not at import: it costs an argon2 hash, which start-up need not pay."""
    if passwords not in _dummy_hashes:
        _dummy_hashes[passwords] = passwords.hash("not-a-real-password-0")
    return _dummy_hashes[passwords]


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


def _signer(context: Context, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(context.secret_key, salt=salt)


def sign(context: Context, value: str, salt: str) -> str:
    return _signer(context, salt).dumps(value)


def unsign(context: Context, signed: str | None, salt: str) -> str | None:
    if not signed:
        return None
    try:
        value = _signer(context, salt).loads(signed)
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


@dataclass(frozen=True)
class _Account:
    """Who a login name is, as far as a login needs it (``account_id`` None: nobody)."""

    account_id: int | None = None
    password_hash: str | None = None
    active: bool = True
    activated: bool = False  # a registration waiting for its admin (MP scope, not active yet)
    oa_appid: str | None = None
    mp_appid: str | None = None


def _account(uow: UnitOfWork, scope: str, name: str) -> _Account:
    if scope == OPERATOR:
        operator = uow.accounts.operator_with_email(name)
        if operator is None:
            return _Account()
        oa_appid = uow.accounts.official_account_by_id(operator.oa_id).appid
        return _Account(operator.id, operator.password_hash, oa_appid=oa_appid)
    if scope == MP:
        mp = uow.accounts.mini_program_with_email(name)
        if mp is not None:
            return _Account(mp.id, mp.password_hash, active=mp.active, mp_appid=mp.appid)
        # Not an MP yet: a registration still waiting for activation or for its admin.
        pending = uow.registrations.pending_with_email(name)
        if pending is None:
            return _Account()
        oa_appid = uow.accounts.official_account_by_id(pending.oa_id).appid
        activated = pending.email_activated_at is not None
        return _Account(0, pending.password_hash, active=False, activated=activated, oa_appid=oa_appid)
    if scope == PHONE:
        user = uow.wechat_users.user_with_wxid(name)
        return _Account() if user is None else _Account(user.id, user.password_hash)
    raise ValueError(scope)


def _locked(context: Context, uow: UnitOfWork, scope: str, name: str, now: datetime) -> bool:
    settings = context.settings
    window = timedelta(seconds=settings.login_window_seconds)
    failures = uow.sessions.login_failures(scope, name, now - 2 * window)
    return is_locked(failures, now, settings.login_max_failures, window)


def login(context: Context, scope: str, email: str, password: str) -> NewSession:
    """Check the email and password of an operator (``scope="operator"``) or an MP owner (``"mp"``), or the
    wxid and password of a WeChat user (``"phone"``), and open a session. Raises LOGIN_LOCKED, LOGIN_FAILED
    or (MP before activation) NOT_ACTIVATED.

    argon2 runs between two units of work: the account is read in a short read-only one, the password checked
    outside any transaction, and the outcome written in a second one. That one takes the login name's lock and
    counts the failures again, so concurrent attempts on one name take turns there: once
    ``login_max_failures`` of them have failed, the others are answered LOGIN_LOCKED whatever their password,
    and none learns more than ``login_max_failures`` answers."""
    name = email.strip() if scope == PHONE else normalize_email(email)
    if scope == PHONE and not WXID.match(name):
        raise DomainError(Err.LOGIN_FAILED, field="password")  # no such user can exist: nothing to count
    passwords = context.passwords
    if len(name) > EMAIL_MAX_LENGTH:  # no account has such an address: nothing to look up or to count
        passwords.verify(_dummy_hash(passwords), password)
        raise DomainError(Err.LOGIN_FAILED, field="password")
    with context.uow(readonly=True) as uow:
        if _locked(context, uow, scope, name, uow.clock.now()):
            raise DomainError(Err.LOGIN_LOCKED, field="email")
        account = _account(uow, scope, name)
    verified = passwords.verify(account.password_hash or _dummy_hash(passwords), password)
    with context.uow() as uow:
        now = uow.clock.now()
        uow.sessions.lock_login(scope, name)
        if _locked(context, uow, scope, name, now):
            raise DomainError(Err.LOGIN_LOCKED, field="email")
        # The password checked must still be the account's (not changed in between).
        if not verified or account.account_id is None or _account(uow, scope, name) != account:
            uow.sessions.add_login_failure(LoginFailure(scope=scope, email=name, at=now))
            audit.record(
                uow.audit,
                now,
                AuditKind.LOGIN_FAILED,
                name,
                oa_appid=account.oa_appid,
                mp_appid=account.mp_appid,
                scope=scope,
            )
            uow.commit()
            raise DomainError(Err.LOGIN_FAILED, field="password")
        if not account.active:
            # Only someone who knows the password learns how far the registration is.
            stage = "incomplete" if account.activated else "inactive"
            raise DomainError(Err.NOT_ACTIVATED, field="email", stage=stage)
        new = open_session(context, uow, now, scope, account.account_id)
        uow.commit()
    return new


def open_session(context: Context, uow: UnitOfWork, now: datetime, scope: str, account_id: int) -> NewSession:
    """A new session of ``account_id`` in the caller's unit of work (after a login, or an enrolment)."""
    raw, csrf = secrets.new_token(), secrets.new_token()
    uow.sessions.remove_expired(now)
    uow.sessions.add(
        WebSession(
            id_hash=secrets.token_hash(raw),
            kind=scope,
            account_id=account_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    return NewSession(cookie=sign(context, raw, "session"), csrf_token=csrf)


def load(context: Context, cookie: str | None, scope: str) -> SessionView | None:
    """The live session a cookie refers to, or None (missing, forged, expired or of another scope)."""
    raw = unsign(context, cookie, "session")
    if raw is None:
        return None
    with context.uow(readonly=True) as uow:
        row = uow.sessions.session(secrets.token_hash(raw))
        if row is None or row.kind != scope or row.expires_at <= uow.clock.now():
            return None
        return SessionView(row.kind, row.account_id, row.csrf_token, row.expires_at)


def logout(context: Context, cookie: str | None) -> None:
    raw = unsign(context, cookie, "session")
    if raw is None:
        return
    with context.uow() as uow:
        uow.sessions.remove(secrets.token_hash(raw))
        uow.commit()


def csrf_valid(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and secrets.secrets_equal(str(expected), str(given))


@dataclass(frozen=True)
class OperatorIdentity:
    operator_id: int
    email: str
    wxid: str | None
    oa_id: int
    oa_appid: str
    oa_name: str


def operator_identity(context: Context, operator_id: int) -> OperatorIdentity | None:
    with context.uow(readonly=True) as uow:
        operator = uow.accounts.operator(operator_id)
        if operator is None:
            return None
        oa = uow.accounts.official_account_by_id(operator.oa_id)
        return OperatorIdentity(operator.id, operator.email, operator.wxid, oa.id, oa.appid, oa.name)
