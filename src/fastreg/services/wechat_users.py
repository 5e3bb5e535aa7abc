"""WeChat users of production mode: the people who answer confirmations on the phone page. An operator creates
one (``fastreg user create --wxid W``) and hands the person a one-time enrolment link (a bearer secret: random,
stored hashed, expiring, single-use); the person opens it on the phone and sets a password, which logs them in.
From then on they log in on the phone page with wxid and password (``sessions.login`` with ``PHONE``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from fastreg.adapters import crypto
from fastreg.adapters.db.models import WebSession, WechatUser
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind
from fastreg.domain.rules import validate_password, validate_wxid
from fastreg.platform import Platform
from fastreg.services import audit, credentials, sessions
from fastreg.services.credentials import CredentialKind, Lookup

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


def create(platform: Platform, wxid: str, *, actor: str = "cli") -> NewWechatUser:
    """A WeChat user without a password yet, and the link through which the person sets one."""
    value = validate_wxid(wxid)
    ttl = platform.settings.enrolment_ttl_seconds
    try:
        with platform.uow() as uow:
            session, now = uow.session, uow.clock.now()
            if session.execute(select(WechatUser.id).where(WechatUser.wxid == value)).first() is not None:
                raise WechatUserExists(value)
            session.add(WechatUser(wxid=value, password_hash=None, created_at=now, enrolled_at=None))
            raw = credentials.issue(session.info["unit_of_work"].credentials, now, CredentialKind.ENROLMENT, value, ttl)
            audit.record(session, now, AuditKind.WECHAT_USER_CREATED, actor, wxid=value)
            uow.commit()
    except IntegrityError:  # created at the same moment by another command
        raise WechatUserExists(value) from None
    return NewWechatUser(value, platform.url(ENROL_PATH + raw), now + timedelta(seconds=ttl))


def new_enrolment_link(platform: Platform, wxid: str, *, actor: str = "cli") -> NewWechatUser:
    """A fresh enrolment link for an existing WeChat user (a forgotten password): the older unused links stop
    working; the password in place keeps working until the person sets a new one through this link."""
    value = wxid.strip()
    ttl = platform.settings.enrolment_ttl_seconds
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        if session.execute(select(WechatUser.id).where(WechatUser.wxid == value)).first() is None:
            raise DomainError(Err.NOT_FOUND)
        credentials.revoke_unused(session.info["unit_of_work"].credentials, now, CredentialKind.ENROLMENT, value)
        raw = credentials.issue(session.info["unit_of_work"].credentials, now, CredentialKind.ENROLMENT, value, ttl)
        audit.record(session, now, AuditKind.WECHAT_USER_CREATED, actor, wxid=value, renewed=True)
        uow.commit()
    return NewWechatUser(value, platform.url(ENROL_PATH + raw), now + timedelta(seconds=ttl))


def _usable(found: credentials.Found) -> credentials.Found:
    if found.status is Lookup.EXPIRED:
        raise DomainError(Err.ACTIVATION_EXPIRED)
    if found.status is not Lookup.OK:
        raise DomainError(Err.ACTIVATION_INVALID)
    return found


def enrolment_wxid(platform: Platform, token: str) -> str:
    """Whose enrolment link this is (the page greets the person); refused when unknown, used or expired."""
    with platform.uow(readonly=True) as uow:
        found = _usable(credentials.find(uow.credentials, uow.clock.now(), CredentialKind.ENROLMENT, token))
        assert found.credential is not None
        return found.credential.subject


def enrol(platform: Platform, token: str, password: str, confirmation: str) -> sessions.NewSession:
    """Set the password through the enrolment link (used up by it) and open a phone session."""
    validate_password(password, confirmation)
    password_hash = crypto.hash_password(password)  # before the transaction: argon2 takes a while
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        found = _usable(
            credentials.find(session.info["unit_of_work"].credentials, now, CredentialKind.ENROLMENT, token)
        )
        assert found.credential is not None
        if not credentials.consume(
            session.info["unit_of_work"].credentials, now, found.credential
        ):  # a concurrent enrolment won
            raise DomainError(Err.ACTIVATION_INVALID)
        wxid = found.credential.subject
        user = session.execute(select(WechatUser).where(WechatUser.wxid == wxid)).scalar_one()
        user.password_hash, user.enrolled_at = password_hash, now
        # A new password ends the sessions opened with the old one.
        session.execute(delete(WebSession).where(WebSession.kind == sessions.PHONE, WebSession.account_id == user.id))
        audit.record(session, now, AuditKind.WECHAT_USER_ENROLLED, wxid)
        new = sessions.open_session(platform, session, now, sessions.PHONE, user.id)
        uow.commit()
    return new


def wxid_of(platform: Platform, user_id: int) -> str | None:
    with platform.uow(readonly=True) as uow:
        user = uow.session.get(WechatUser, user_id)
        return user.wxid if user is not None else None
