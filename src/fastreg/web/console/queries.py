"""Read-only views the console pages show (one short read transaction each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from fastreg.adapters.db.models import AuditEvent, Link, MiniProgram, OfficialAccount, Principal, Registration
from fastreg.domain.errors import DomainError
from fastreg.domain.model import LinkStatus
from fastreg.domain.rules import QuotaStatus
from fastreg.platform import Platform
from fastreg.services import confirmations, quota


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


def oa_summary(platform: Platform, oa_id: int) -> OASummary:
    with platform.uow(readonly=True) as uow:
        oa = uow.session.get(OfficialAccount, oa_id)
        assert oa is not None
        principal = uow.session.get(Principal, oa.principal_id)
        assert principal is not None
        status = quota.quota_status(uow, oa, uow.clock.now(), platform)
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


def linked_mps(platform: Platform, oa_id: int) -> list[LinkedMP]:
    with platform.uow(readonly=True) as uow:
        rows = uow.session.execute(
            select(Link, MiniProgram)
            .join(MiniProgram, MiniProgram.id == Link.mp_id)
            .where(Link.oa_id == oa_id)
            .order_by(Link.created_at.desc(), Link.id.desc())
        ).all()
        return [
            LinkedMP(mp.appid, mp.name, mp.certified, link.linked_via, link.status, link.show_profile, link.linked_at)
            for link, mp in rows
        ]


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int  # 1-based, within 1..pages
    pages: int  # at least 1


AUDIT_PAGE_SIZE = 20


def audit_history(platform: Platform, oa_appid: str, page: int = 1, per_page: int = AUDIT_PAGE_SIZE) -> AuditPage:
    """Only the events of this OA, newest first, one page of them (a page out of range shows the nearest one)."""
    mine = AuditEvent.oa_appid == oa_appid
    with platform.uow(readonly=True) as uow:
        total = uow.session.execute(select(func.count()).select_from(AuditEvent).where(mine)).scalar_one()
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)
        rows = uow.session.execute(
            select(AuditEvent)
            .where(mine)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).scalars()
        return AuditPage([AuditRow(e.at, e.kind, e.actor, e.mp_appid, e.detail) for e in rows], page, pages)


def registration_outcome(platform: Platform, oa_id: int, registration_id: int) -> RegistrationOutcome | None:
    """A registration of this OA (None for another OA's)."""
    with platform.uow(readonly=True) as uow:
        reg = uow.session.get(Registration, registration_id)
        if reg is None or reg.oa_id != oa_id:
            return None
        oa = uow.session.get(OfficialAccount, oa_id)
        assert oa is not None
        mp = uow.session.get(MiniProgram, reg.mp_id) if reg.mp_id else None
        linked = False
        if mp is not None:
            link = uow.session.execute(
                select(Link).where(Link.oa_id == oa_id, Link.mp_id == mp.id)
            ).scalar_one_or_none()
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


def mp_summary(platform: Platform, mp_id: int) -> MPSummary | None:
    with platform.uow(readonly=True) as uow:
        mp = uow.session.get(MiniProgram, mp_id)
        if mp is None:
            return None
        principal = uow.session.get(Principal, mp.principal_id)
        assert principal is not None
        oas = uow.session.execute(
            select(OfficialAccount.appid, OfficialAccount.name)
            .join(Link, Link.oa_id == OfficialAccount.id)
            .where(Link.mp_id == mp.id, Link.status == LinkStatus.LINKED.value)
        ).all()
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
            [(appid, name) for appid, name in oas],
        )


def confirmation(
    platform: Platform, confirmation_id: str | None, *, stored: bool = False
) -> confirmations.ConfirmationView | None:
    """The confirmation, or None (no id, or no such confirmation). ``stored``: the id is the digest another
    record keeps (a registration's scan or admin confirmation), not the public id of a URL."""
    if not confirmation_id:
        return None
    try:
        if stored:
            return confirmations.describe_stored(platform, confirmation_id)
        return confirmations.describe(platform, confirmation_id)
    except DomainError:
        return None
