"""WeChat users of production mode: the people who answer confirmations on the phone page. An operator creates
one (``fastreg user create --wxid W``) and hands the person a one-time enrolment link (a bearer secret: random,
stored hashed, expiring, single-use); the person opens it on the phone and sets a password, which logs them in.
From then on they log in on the phone page with wxid and password (``sessions.login`` with ``PHONE``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastreg.domain import secrets
from fastreg.domain.entities import CredentialValues, WechatUser
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind
from fastreg.domain.rules import validate_password, validate_wxid
from fastreg.services import audit, credentials, sessions
from fastreg.services.credentials import CredentialKind
from fastreg.services.ports import Context, UnitOfWork

ENROL_PATH = "/m/enrol/"


class WechatUserExists(Exception):
    def __init__(self, wxid: str) -> None:
        super().__init__(f"the WeChat user {wxid} exists already")
        self.wxid = wxid


@dataclass(frozen=True)
class NewWechatUser:
    wxid: str
    enrolment_url: str
    expires_at: datetime


def create(context: Context, wxid: str, *, actor: str = "cli") -> NewWechatUser:
    """A WeChat user without a password yet, and the link through which the person sets one."""
    value = validate_wxid(wxid)
    ttl = context.settings.enrolment_ttl_seconds
    with context.uow() as uow:
        now = uow.clock.now()
        # Refused also when another command creates it at the same moment (the wxid is unique).
        if not uow.wechat_users.add(WechatUser(wxid=value, password_hash=None, created_at=now, enrolled_at=None)):
            raise WechatUserExists(value)
        raw = credentials.issue(uow.credentials, now, CredentialKind.ENROLMENT, value, ttl)
        audit.record(uow.audit, now, AuditKind.WECHAT_USER_CREATED, actor, wxid=value)
        uow.commit()
    return NewWechatUser(value, context.url(ENROL_PATH + raw), now + timedelta(seconds=ttl))


def new_enrolment_link(context: Context, wxid: str, *, actor: str = "cli") -> NewWechatUser:
    """A fresh enrolment link for an existing WeChat user (a forgotten password): the older unused links stop
    working; the password in place keeps working until the person sets a new one through this link."""
    value = wxid.strip()
    ttl = context.settings.enrolment_ttl_seconds
    with context.uow() as uow:
        now = uow.clock.now()
        if uow.wechat_users.user_with_wxid(value) is None:
            raise DomainError(Err.NOT_FOUND)
        uow.credentials.revoke_unused(CredentialKind.ENROLMENT.value, value, now)
        raw = credentials.issue(uow.credentials, now, CredentialKind.ENROLMENT, value, ttl)
        audit.record(uow.audit, now, AuditKind.WECHAT_USER_CREATED, actor, wxid=value, renewed=True)
        uow.commit()
    return NewWechatUser(value, context.url(ENROL_PATH + raw), now + timedelta(seconds=ttl))


def _enrolment(uow: UnitOfWork, token: str) -> CredentialValues:
    """The usable enrolment link ``token``; refused when unknown, used or expired."""
    credential = uow.credentials.credential(secrets.token_hash(token))
    if credential is None or credential.kind != CredentialKind.ENROLMENT.value or credential.used_at is not None:
        raise DomainError(Err.ACTIVATION_INVALID)
    if credential.expires_at <= uow.clock.now():
        raise DomainError(Err.ACTIVATION_EXPIRED)
    return credential


def enrolment_wxid(context: Context, token: str) -> str:
    """Whose enrolment link this is (the page greets the person); refused when unknown, used or expired."""
    with context.uow(readonly=True) as uow:
        return _enrolment(uow, token).subject


def enrol(context: Context, token: str, password: str, confirmation: str) -> sessions.NewSession:
    """Set the password through the enrolment link (used up by it) and open a phone session."""
    validate_password(password, confirmation)
    password_hash = context.passwords.hash(password)  # before the transaction: argon2 takes a while
    with context.uow() as uow:
        now = uow.clock.now()
        credential = _enrolment(uow, token)
        if not uow.credentials.use(credential, now):  # a concurrent enrolment won
            raise DomainError(Err.ACTIVATION_INVALID)
        user = uow.wechat_users.user_with_wxid(credential.subject)
        assert user is not None, "an enrolment link is issued for an existing WeChat user"
        user.password_hash, user.enrolled_at = password_hash, now
        # A new password ends the sessions opened with the old one.
        uow.sessions.remove_sessions_of(sessions.PHONE, user.id)
        audit.record(uow.audit, now, AuditKind.WECHAT_USER_ENROLLED, user.wxid)
        new = sessions.open_session(context, uow, now, sessions.PHONE, user.id)
        uow.commit()
    return new


def wxid_of(context: Context, user_id: int) -> str | None:
    with context.uow(readonly=True) as uow:
        user = uow.wechat_users.user(user_id)
        return user.wxid if user is not None else None
