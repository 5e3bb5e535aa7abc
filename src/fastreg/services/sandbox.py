"""Sandbox use cases: reset, the settable clock, the personal-WeChat email set, read-only views of accounts
(OA overview with its quota, MP view, audit listing, outbox) and the control shortcuts (principal blacklist,
component verify tickets, authorization codes). The sandbox web routes and the CLI both call these."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastreg.domain.clock import Clock, as_utc, in_supported_range, moved_by, range_error
from fastreg.domain.entities import Link, MailMessage, MiniProgram, OfficialAccount, Principal, Registration
from fastreg.domain.model import AuditKind, LinkStatus
from fastreg.domain.rules import calendar_month, monthly_limit, validate_email_format
from fastreg.services import audit, pushes
from fastreg.services.ports import Context
from fastreg.services.ports.worker import DatabaseBusy

AUTHORIZATION_CODE_TTL = 3600
MAIL_WAIT_SECONDS = 5.0


class SandboxError(Exception):
    """A refusal of the sandbox control API that is not a domain rule (HTTP status + short code)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(what: str, key: str) -> SandboxError:
    return SandboxError(404, "not_found", f"{what} {key!r} not found")


def utc_iso(at: datetime | None) -> str | None:
    return None if at is None else as_utc(at).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ensure_sandbox(context: Context) -> None:
    if not context.settings.is_sandbox:
        raise SandboxError(403, "production_mode", "the sandbox is disabled in production mode")


# ---------------------------------------------------------------- reset


def reset(context: Context) -> float:
    """Wipe every account, registration, token, confirmation, mail, audit event, injected fault (and the clock
    setting) in one transaction, with no other transaction in the database meanwhile (calls running at the same
    time finish before it or see the empty world); the sandbox key lives outside the database and is kept.
    Returns the seconds taken."""
    _ensure_sandbox(context)
    context.flush_mail()  # mail received before the reset is stored (and so wiped) now, not after it
    started = time.perf_counter()
    try:
        context.wipe()
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


class _Real:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _real_clock(context: Context) -> Clock:
    return context.sandbox_clock_over or _Real()


def get_clock(context: Context) -> ClockView:
    with context.uow(readonly=True) as uow:
        _, frozen = uow.sandbox_state.clock_setting(_real_clock(context))
        # Outside the sandbox the stored setting is not used (the platform runs on the system clock).
        return ClockView(uow.clock.now(), frozen and context.sandbox_clock_over is not None)


def set_clock(
    context: Context, *, now: datetime | None = None, advance_seconds: float | None = None, real: bool = False
) -> ClockView:
    """Exactly one of: freeze at ``now``, move by ``advance_seconds`` (frozen or running), back to real time."""
    _ensure_sandbox(context)
    given = sum(x for x in (now is not None, advance_seconds is not None, real))
    if given != 1:
        raise SandboxError(422, "invalid_request", "give exactly one of now, advance_seconds, real")
    if now is not None and not in_supported_range(now):
        raise SandboxError(422, "invalid_request", range_error("now"))
    with context.uow() as uow:
        if now is not None:
            uow.sandbox_state.freeze_clock(as_utc(now))
        elif advance_seconds is not None:
            if moved_by(uow.clock.now(), advance_seconds) is None:
                raise SandboxError(422, "invalid_request", range_error("the clock moved by advance_seconds"))
            uow.sandbox_state.advance_clock(_real_clock(context), advance_seconds)
        else:
            uow.sandbox_state.make_clock_real()
        uow.commit()
    return get_clock(context)


# ---------------------------------------------------------------- personal WeChat emails


def add_personal_wechat_email(context: Context, email: str) -> str:
    normalized = validate_email_format(email)
    with context.uow() as uow:
        uow.sandbox_state.add_personal_wechat_email(normalized)
        uow.commit()
    return normalized


# ---------------------------------------------------------------- Official Accounts


def ensure_principal_type(context: Context, name: str, principal_type: str) -> None:
    """An existing principal keeps its type: creating an OA under it with another type is a conflict."""
    with context.uow(readonly=True) as uow:
        existing = uow.accounts.principal_named(name)
    if existing is not None and existing.type != principal_type:
        raise SandboxError(409, "principal_type_conflict", f"principal {name!r} exists with type {existing.type!r}")


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


def _link_json(link: Link, mp: MiniProgram) -> dict[str, Any]:
    return {
        "appid": mp.appid,
        "original_id": mp.original_id,
        "name": mp.name,
        "status": link.status,
        "linked_via": link.linked_via,
        "show_profile": link.show_profile,
        "notify_users": link.notify_users,
        "linked_at": utc_iso(link.linked_at),
    }


def official_account_overview(context: Context, appid: str) -> dict[str, Any]:
    with context.uow(readonly=True) as uow:
        now = uow.clock.now()
        oa: OfficialAccount | None = uow.accounts.find_official_account(appid)
        if oa is None:
            raise not_found("official account", appid)
        principal = uow.accounts.principal(oa.principal_id)
        month = calendar_month(now, context.settings.timezone)
        limit = monthly_limit(principal.type, context.limits)
        used = uow.counters.used(oa.id, "registration", month)
        pending = uow.sandbox_state.pending_registration(oa.id)
        return {
            "appid": oa.appid,
            "original_id": oa.original_id,
            "name": oa.name,
            "principal": _principal_json(principal),
            "verified": oa.verified,
            "verify_expires_at": utc_iso(oa.verify_expires_at),
            "overseas": oa.overseas,
            "admin_wxid": oa.admin_wxid,
            "quota": {"month": month, "limit": limit, "used": used, "remaining": max(limit - used, 0)},
            "pending_registration": _registration_json(pending) if pending else None,
            "linked_mini_programs": [_link_json(link, mp) for link, mp in uow.links.of_oa(oa.id)],
            "links_this_month": uow.counters.links_used(oa.id, month),
        }


# ---------------------------------------------------------------- principals


def _principal_json(principal: Principal) -> dict[str, Any]:
    return {
        "name": principal.name,
        "type": principal.type,
        "blacklisted": principal.blacklisted,
        "mini_program_count": principal.mp_count,
    }


def set_blacklisted(context: Context, name: str, blacklisted: bool) -> dict[str, Any]:
    with context.uow() as uow:
        principal = uow.accounts.principal_named(name)
        if principal is None:
            raise not_found("principal", name)
        principal.blacklisted = blacklisted
        uow.commit()
        return _principal_json(principal)


# ---------------------------------------------------------------- components


def issue_verify_ticket(context: Context, component_appid: str) -> str:
    """A fresh component_verify_ticket (valid 12 hours, as the earlier ones still are), queued for a push to the
    component's callback URL when it has one, in the same transaction."""
    with context.uow() as uow:
        component = uow.pushes.component(component_appid)
        if component is None:
            raise not_found("component", component_appid)
        ticket = pushes.issue_verify_ticket(uow.pushes, uow.clock.now(), component)
        uow.commit()
    return ticket


def authorize(context: Context, component_appid: str, authorizer_appid: str) -> str:
    """The consent page's shortcut: the account authorizes the component; returns the authorization code."""
    from fastreg.services.authorization import grant_authorization

    with context.uow() as uow:
        now = uow.clock.now()
        component = uow.pushes.component(component_appid)
        if component is None:
            raise not_found("component", component_appid)
        if not uow.sandbox_state.account_exists(authorizer_appid):
            raise not_found("account", authorizer_appid)
        code = grant_authorization(
            context, uow, component.id, authorizer_appid, list(component.permission_sets), AUTHORIZATION_CODE_TTL
        )
        audit.record(
            uow.audit, now, AuditKind.COMPONENT_AUTHORIZED, component.appid, oa_appid=authorizer_appid, via="sandbox"
        )
        # As the consent page does: the component hears of it on its callback URL.
        pushes.enqueue_authorization_event(
            uow.pushes, now, component, "authorized", authorizer_appid, code, AUTHORIZATION_CODE_TTL
        )
        uow.commit()
        return code


# ---------------------------------------------------------------- mini programs


def mini_program_view(context: Context, appid: str) -> dict[str, Any]:
    with context.uow(readonly=True) as uow:
        mp = uow.accounts.find_mini_program(appid)
        if mp is None:
            raise not_found("mini program", appid)
        principal = uow.accounts.principal(mp.principal_id)
        found = uow.sandbox_state.current_link_of_mp(mp.id)
        link, oa_appid = found if found else (None, None)
        linked = link is not None and link.status == LinkStatus.LINKED.value
        created_by = uow.accounts.official_account_by_id(mp.created_by_oa_id) if mp.created_by_oa_id else None
        return {
            "appid": mp.appid,
            "original_id": mp.original_id,
            "name": mp.name,
            "principal_name": principal.name,
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


def audit_events(context: Context, appid: str | None = None) -> list[dict[str, Any]]:
    with context.uow(readonly=True) as uow:
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
            for event in uow.sandbox_state.audit_events(appid)
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


def wait_for_queued_mail(context: Context, timeout: float = MAIL_WAIT_SECONDS) -> None:
    """Wait (reading only) until the worker has tried every mail queued so far: one that failed stays queued for
    its retry and is not waited for again."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while time.monotonic() < deadline:
        with context.uow(readonly=True) as uow:
            if not uow.mail.untried():
                return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def outbox(context: Context, to: str | None = None) -> list[dict[str, Any]]:
    """Every email as delivered to the SMTP server, oldest first; ``to`` filters by recipient. Mail queued
    before the call is waited for (the worker, woken by its commit, sends it within milliseconds)."""
    wait_for_queued_mail(context)
    context.flush_mail()
    with context.uow(readonly=True) as uow:
        recipient = to.strip().lower() if to else None
        return [mail_json(message) for message in uow.sandbox_state.delivered_mail(recipient)]


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
    "set_blacklisted",
    "set_clock",
]
