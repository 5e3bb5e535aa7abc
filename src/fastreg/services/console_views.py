"""Read-only views the console pages show (one short read-only unit of work each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastreg.domain.errors import DomainError
from fastreg.domain.model import LinkStatus
from fastreg.domain.rules import QuotaStatus
from fastreg.services import confirmations, quota
from fastreg.services.ports import Context


@dataclass(frozen=True)
class OASummary:
    id: int
    appid: str
    name: str
    principal_name: str
    principal_type: str
    verified: bool
    verify_expires_at: datetime | None
    overseas: bool
    admin_wxid: str
    quota: QuotaStatus


@dataclass(frozen=True)
class LinkedMP:
    appid: str
    name: str | None
    certified: bool
    linked_via: str
    status: str
    show_profile: bool
    linked_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    kind: str
    actor: str
    mp_appid: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class RegistrationOutcome:
    id: int
    status: str
    mp_appid: str | None
    mp_name: str | None
    mp_email: str | None
    certified: bool
    certified_until: datetime | None
    linked: bool
    oa_name: str
    admin_wxid: str | None


@dataclass(frozen=True)
class MPSummary:
    appid: str
    original_id: str
    name: str | None
    email: str | None
    principal_name: str
    principal_type: str
    certified: bool
    certified_until: datetime | None
    created_via: str
    admin_wxid: str | None
    linked_oas: list[tuple[str, str]]  # (appid, name)


def oa_summary(context: Context, oa_id: int) -> OASummary:
    with context.uow(readonly=True) as uow:
        oa = uow.accounts.official_account_by_id(oa_id)
        principal = uow.accounts.principal(oa.principal_id)
        status = quota.quota_status(uow, oa, uow.clock.now(), context)
        return OASummary(
            oa.id,
            oa.appid,
            oa.name,
            principal.name,
            principal.type,
            oa.verified,
            oa.verify_expires_at,
            oa.overseas,
            oa.admin_wxid,
            status,
        )


def linked_mps(context: Context, oa_id: int) -> list[LinkedMP]:
    """The OA's links (whatever their status), the newest first."""
    with context.uow(readonly=True) as uow:
        pairs = sorted(uow.links.of_oa(oa_id), key=lambda pair: (pair[0].created_at, pair[0].id), reverse=True)
        return [
            LinkedMP(mp.appid, mp.name, mp.certified, link.linked_via, link.status, link.show_profile, link.linked_at)
            for link, mp in pairs
        ]


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int  # 1-based, within 1..pages
    pages: int  # at least 1


AUDIT_PAGE_SIZE = 20


def audit_history(context: Context, oa_appid: str, page: int = 1, per_page: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """Only the events of this OA, newest first, one page of them (a page out of range shows the nearest one)."""
    with context.uow(readonly=True) as uow:
        pages = max(1, -(-uow.audit.count_oa_events(oa_appid) // per_page))
        page = min(max(page, 1), pages)
        events = uow.audit.oa_events(oa_appid, (page - 1) * per_page, per_page)
        return AuditPage([AuditRow(e.at, e.kind, e.actor, e.mp_appid, e.detail) for e in events], page, pages)


def registration_outcome(context: Context, oa_id: int, registration_id: int) -> RegistrationOutcome | None:
    """A registration of this OA (None for another OA's)."""
    with context.uow(readonly=True) as uow:
        reg = uow.registrations.get(registration_id)
        if reg is None or reg.oa_id != oa_id:
            return None
        oa = uow.accounts.official_account_by_id(oa_id)
        mp = uow.accounts.mini_program_by_id(reg.mp_id) if reg.mp_id else None
        linked = False
        if mp is not None:
            link = uow.links.link(oa_id, mp.id)
            linked = link is not None and link.status == LinkStatus.LINKED
        return RegistrationOutcome(
            reg.id,
            reg.status,
            mp.appid if mp else None,
            mp.name if mp else reg.mp_name,
            mp.email if mp else reg.email,
            bool(mp and mp.certified),
            mp.certified_until if mp else None,
            linked,
            oa.name,
            mp.admin_wxid if mp else reg.admin_wxid,
        )


def mp_summary(context: Context, mp_id: int) -> MPSummary | None:
    with context.uow(readonly=True) as uow:
        mp = uow.accounts.mini_program_by_id(mp_id)
        if mp is None:
            return None
        principal = uow.accounts.principal(mp.principal_id)
        oas = uow.links.linked_oas(mp.id)
        return MPSummary(
            mp.appid,
            mp.original_id,
            mp.name,
            mp.email,
            principal.name,
            principal.type,
            mp.certified,
            mp.certified_until,
            mp.created_via,
            mp.admin_wxid,
            [(oa.appid, oa.name) for oa in oas],
        )


def confirmation(
    context: Context, confirmation_id: str | None, *, stored: bool = False
) -> confirmations.ConfirmationView | None:
    """The confirmation, or None (no id, or no such confirmation). ``stored``: the id is the digest another
    record keeps (a registration's scan or admin confirmation), not the public id of a URL."""
    if not confirmation_id:
        return None
    try:
        if stored:
            return confirmations.describe_stored(context, confirmation_id)
        return confirmations.describe(context, confirmation_id)
    except DomainError:
        return None
