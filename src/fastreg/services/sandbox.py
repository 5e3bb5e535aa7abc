"""Sandbox use cases: reset, the settable clock, the personal-WeChat email set, read-only views of accounts
(OA overview with its quota, MP view, audit listing, outbox) and the control shortcuts (principal blacklist,
component verify tickets, authorization codes). The sandbox web routes and the CLI both call these."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from fastreg.adapters.db import clock as db_clock
from fastreg.adapters.db.maintenance import DatabaseBusy, wipe_alone
from fastreg.adapters.db.models import (
    AuditEvent,
    Component,
    Link,
    MailMessage,
    MiniProgram,
    OfficialAccount,
    PersonalWechatEmail,
    Principal,
    Registration,
)
from fastreg.adapters.db.uow import SandboxClockSource
from fastreg.domain.clock import Clock, SystemClock, as_utc, in_supported_range, moved_by, range_error
from fastreg.domain.errors import DomainError
from fastreg.domain.model import AuditKind, LinkStatus, RegistrationStatus
from fastreg.domain.rules import validate_email_format
from fastreg.platform import Platform, persistent_secret
from fastreg.services import audit, pushes
from fastreg.services.accounts import find_component
from fastreg.services.authorization import grant_authorization
from fastreg.settings import Settings

AUTHORIZATION_CODE_TTL = 3600


class SandboxError(Exception):
    """A refusal of the sandbox control API that is not a domain rule (HTTP status + short code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str, key: str) -> SandboxError:
    return SandboxError(404, "not_found", f"{what} {key!r} not found")


def sandbox_key(settings: Settings) -> str:
    """``FASTREG_SANDBOX_KEY``, or a random key generated at first start and kept in the data directory."""
    if settings.sandbox_key:
        return settings.sandbox_key
    for _ in range(100):
        key = persistent_secret(settings.data_dir, "sandbox_key")
        if key:
            return key
        time.sleep(0.01)  # another process created the file a moment ago and is writing the key
    raise RuntimeError(f"empty sandbox key file in {settings.data_dir}")


def utc_iso(at: datetime | None) -> str | None:
    return None if at is None else db_clock.utc_iso(at)


def _ensure_sandbox(platform: Platform) -> None:
    if not platform.settings.is_sandbox:
        raise SandboxError(403, "production_mode", "the sandbox is disabled in production mode")


# ---------------------------------------------------------------- reset


def reset(platform: Platform) -> float:
    """Wipe every account, registration, token, confirmation, mail, audit event, injected fault (and the clock
    setting) in one transaction, with no other transaction in the database meanwhile (``wipe_alone``: calls
    running at the same time finish before it or see the empty world); the sandbox key lives outside the database
    and is kept. Returns the seconds taken."""
    from fastreg.adapters.mail import flush_deliveries

    _ensure_sandbox(platform)
    flush_deliveries()  # mail received before the reset is stored (and so wiped) now, not after it
    started = time.perf_counter()
    try:
        wipe_alone(platform.sessions)
    except DatabaseBusy as busy:
        raise SandboxError(409, "busy", f"reset gave up: {busy}; try again") from None
    return time.perf_counter() - started


# ---------------------------------------------------------------- clock


@dataclass(frozen=True)
class ClockView:
    now: datetime
    frozen: bool

    def as_json(self) -> dict[str, Any]:
        return {"now": utc_iso(self.now), "frozen": self.frozen}


def _real_clock(platform: Platform) -> Clock:
    clocks = platform.clocks
    return clocks.real if isinstance(clocks, SandboxClockSource) else SystemClock()


def get_clock(platform: Platform) -> ClockView:
    with platform.uow(readonly=True) as uow:
        _, frozen = db_clock.load_clock(uow.session, _real_clock(platform))
        # Outside the sandbox the stored setting is not used (the platform runs on the system clock).
        return ClockView(uow.clock.now(), frozen and isinstance(platform.clocks, SandboxClockSource))


def set_clock(
    platform: Platform, *, now: datetime | None = None, advance_seconds: float | None = None, real: bool = False
) -> ClockView:
    """Exactly one of: freeze at ``now``, move by ``advance_seconds`` (frozen or running), back to real time."""
    _ensure_sandbox(platform)
    given = sum(x for x in (now is not None, advance_seconds is not None, real))
    if given != 1:
        raise SandboxError(422, "invalid_request", "give exactly one of now, advance_seconds, real")
    if now is not None and not in_supported_range(now):
        raise SandboxError(422, "invalid_request", range_error("now"))
    with platform.uow() as uow:
        if now is not None:
            db_clock.freeze(uow.session, as_utc(now))
        elif advance_seconds is not None:
            if moved_by(uow.clock.now(), advance_seconds) is None:
                raise SandboxError(422, "invalid_request", range_error("the clock moved by advance_seconds"))
            db_clock.advance(uow.session, _real_clock(platform), advance_seconds)
        else:
            db_clock.make_real(uow.session)
        uow.commit()
    return get_clock(platform)


# ---------------------------------------------------------------- personal WeChat emails


def add_personal_wechat_email(platform: Platform, email: str) -> str:
    normalized = validate_email_format(email)
    with platform.uow() as uow:
        if uow.session.get(PersonalWechatEmail, normalized) is None:
            uow.session.add(PersonalWechatEmail(email=normalized))
        uow.commit()
    return normalized


# ---------------------------------------------------------------- Official Accounts


def _oa(session: Session, appid: str) -> OfficialAccount:
    oa = session.execute(select(OfficialAccount).where(OfficialAccount.appid == appid)).scalar_one_or_none()
    if oa is None:
        raise not_found("official account", appid)
    return oa


def ensure_principal_type(platform: Platform, name: str, principal_type: str) -> None:
    """An existing principal keeps its type: creating an OA under it with another type is a conflict."""
    with platform.uow(readonly=True) as uow:
        existing = uow.session.execute(select(Principal.type).where(Principal.name == name)).scalar_one_or_none()
    if existing is not None and existing != principal_type:
        raise SandboxError(409, "principal_type_conflict", f"principal {name!r} exists with type {existing!r}")


def _registration_json(registration: Registration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "channel": registration.channel,
        "status": registration.status,
        "email": registration.email,
        "mp_name": registration.mp_name,
        "reuse_certification": registration.reuse_certification,
        "reuse_operator": registration.reuse_operator,
        "created_at": utc_iso(registration.created_at),
        "updated_at": utc_iso(registration.updated_at),
    }


def official_account_overview(platform: Platform, appid: str) -> dict[str, Any]:
    from fastreg.services.quota import links_this_month, quota_status

    with platform.uow(readonly=True) as uow:
        session, now = uow.session, uow.clock.now()
        oa = _oa(session, appid)
        principal = session.get(Principal, oa.principal_id)
        assert principal is not None
        quota = quota_status(session, oa, now, platform)
        pending = (
            session.execute(
                select(Registration)
                .where(Registration.oa_id == oa.id, Registration.status == RegistrationStatus.PENDING.value)
                .limit(1)
            )
            .scalars()
            .first()
        )
        links = session.execute(
            select(Link, MiniProgram)
            .join(MiniProgram, MiniProgram.id == Link.mp_id)
            .where(Link.oa_id == oa.id)
            .order_by(Link.id)
        ).all()
        return {
            "appid": oa.appid,
            "original_id": oa.original_id,
            "name": oa.name,
            "principal": _principal_json(principal),
            "verified": oa.verified,
            "verify_expires_at": utc_iso(oa.verify_expires_at),
            "overseas": oa.overseas,
            "admin_wxid": oa.admin_wxid,
            "quota": {"month": quota.month, "limit": quota.limit, "used": quota.used, "remaining": quota.remaining},
            "pending_registration": _registration_json(pending) if pending else None,
            "linked_mini_programs": [
                {
                    "appid": mp.appid,
                    "original_id": mp.original_id,
                    "name": mp.name,
                    "status": link.status,
                    "linked_via": link.linked_via,
                    "show_profile": link.show_profile,
                    "notify_users": link.notify_users,
                    "linked_at": utc_iso(link.linked_at),
                }
                for link, mp in links
            ],
            "links_this_month": links_this_month(session, oa, now, platform),
        }


# ---------------------------------------------------------------- principals


def _principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "name": principal.name,
        "type": principal.type,
        "blacklisted": principal.blacklisted,
        "mini_program_count": principal.mp_count,
    }


def set_blacklisted(platform: Platform, name: str, blacklisted: bool) -> dict[str, Any]:
    with platform.uow() as uow:
        principal = uow.session.execute(select(Principal).where(Principal.name == name)).scalar_one_or_none()
        if principal is None:
            raise not_found("principal", name)
        principal.blacklisted = blacklisted
        uow.commit()
        return _principal_json(principal)


# ---------------------------------------------------------------- components


def _component(session: Session, component_appid: str) -> Component:
    try:
        return find_component(session, component_appid)
    except DomainError:
        raise not_found("component", component_appid) from None


def issue_verify_ticket(platform: Platform, component_appid: str) -> str:
    """A fresh component_verify_ticket (valid 12 hours, as the earlier ones still are), queued for a push to the
    component's callback URL when it has one, in the same transaction."""
    from fastreg.services import pushes

    with platform.uow() as uow:
        component = _component(uow.session, component_appid)
        ticket = pushes.issue_verify_ticket(uow.pushes, uow.clock.now(), component)
        uow.commit()
    return ticket


def authorize(platform: Platform, component_appid: str, authorizer_appid: str) -> str:
    """The consent page's shortcut: the account authorizes the component; returns the authorization code."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        component = _component(session, component_appid)
        known = (
            session.execute(select(OfficialAccount.id).where(OfficialAccount.appid == authorizer_appid)).first()
            or session.execute(select(MiniProgram.id).where(MiniProgram.appid == authorizer_appid)).first()
        )
        if not known:
            raise not_found("account", authorizer_appid)
        code = grant_authorization(
            session, now, component.id, authorizer_appid, list(component.permission_sets), AUTHORIZATION_CODE_TTL
        )
        audit.record(
            session, now, AuditKind.COMPONENT_AUTHORIZED, component.appid, oa_appid=authorizer_appid, via="sandbox"
        )
        # As the consent page does: the component hears of it on its callback URL.
        pushes.enqueue_authorization_event(
            uow.pushes, now, component, "authorized", authorizer_appid, code, AUTHORIZATION_CODE_TTL
        )
        uow.commit()
        return code


# ---------------------------------------------------------------- mini programs


def mini_program_view(platform: Platform, appid: str) -> dict[str, Any]:
    with platform.uow(readonly=True) as uow:
        session = uow.session
        mp = session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()
        if mp is None:
            raise not_found("mini program", appid)
        principal = session.get(Principal, mp.principal_id)
        row = session.execute(
            select(Link, OfficialAccount.appid)
            .join(OfficialAccount, OfficialAccount.id == Link.oa_id)
            .where(Link.mp_id == mp.id)
            .order_by((Link.status == LinkStatus.LINKED.value).desc(), Link.id)
            .limit(1)
        ).first()
        link, oa_appid = (row[0], row[1]) if row else (None, None)
        linked = link is not None and link.status == LinkStatus.LINKED.value
        created_by = session.get(OfficialAccount, mp.created_by_oa_id) if mp.created_by_oa_id else None
        return {
            "appid": mp.appid,
            "original_id": mp.original_id,
            "name": mp.name,
            "principal_name": principal.name if principal else None,
            "certified": mp.certified,
            "certified_until": utc_iso(mp.certified_until),
            "created_via": mp.created_via,
            "created_by_oa": created_by.appid if created_by else None,
            "linked_oa": oa_appid if linked else None,
            "show_profile": bool(link.show_profile) if linked and link else False,
            "notify_users": bool(link.notify_users) if linked and link else False,
            "linked_via": link.linked_via if linked and link else None,
            "admin_wxid": mp.admin_wxid,
            "email": mp.email,
            "active": mp.active,
            "status": mp.status,
            "created_at": utc_iso(mp.created_at),
            "completed_at": utc_iso(mp.completed_at),
        }


# ---------------------------------------------------------------- audit and mail


def audit_events(platform: Platform, appid: str | None = None) -> list[dict[str, Any]]:
    with platform.uow(readonly=True) as uow:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if appid:
            query = query.where(or_(AuditEvent.oa_appid == appid, AuditEvent.mp_appid == appid))
        return [
            {
                "id": event.id,
                "at": utc_iso(event.at),
                "kind": event.kind,
                "actor": event.actor,
                "oa_appid": event.oa_appid,
                "mp_appid": event.mp_appid,
                "detail": event.detail or {},
            }
            for event in uow.session.execute(query).scalars()
        ]


def mail_json(message: MailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "links": list(message.links or []),
        "sent_at": utc_iso(message.sent_at),
    }


MAIL_WAIT_SECONDS = 5.0


def wait_for_queued_mail(platform: Platform, timeout: float = MAIL_WAIT_SECONDS) -> None:
    """Wait (reading only) until the worker has tried every mail queued so far: one that failed stays queued for
    its retry and is not waited for again."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while time.monotonic() < deadline:
        with platform.uow(readonly=True) as uow:
            if not uow.mail.untried():
                return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def outbox(platform: Platform, to: str | None = None) -> list[dict[str, Any]]:
    """Every email as delivered to the SMTP server, oldest first; ``to`` filters by recipient. Mail queued
    before the call is waited for (the worker, woken by its commit, sends it within milliseconds)."""
    from fastreg.adapters.mail import flush_deliveries

    wait_for_queued_mail(platform)
    flush_deliveries()
    with platform.uow(readonly=True) as uow:
        query = select(MailMessage).order_by(MailMessage.id)
        if to:
            query = query.where(MailMessage.to == to.strip().lower())
        return [mail_json(message) for message in uow.session.execute(query).scalars()]


__all__ = [
    "AUTHORIZATION_CODE_TTL",
    "ClockView",
    "SandboxError",
    "add_personal_wechat_email",
    "audit_events",
    "authorize",
    "ensure_principal_type",
    "get_clock",
    "issue_verify_ticket",
    "mini_program_view",
    "official_account_overview",
    "outbox",
    "reset",
    "sandbox_key",
    "set_blacklisted",
    "set_clock",
]
