"""The OA's monthly fast-registration quota and link count, read and spent in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from fastreg.adapters.db import counters
from fastreg.adapters.db.models import MonthlyCounter, OfficialAccount, Principal, Registration
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import RegistrationStatus
from fastreg.domain.rules import ComponentFacts, EligibilityInput, QuotaStatus, Stage, calendar_month, monthly_limit
from fastreg.platform import Platform


def quota_status(session: Session, oa: OfficialAccount, now: datetime, platform: Platform) -> QuotaStatus:
    principal = session.get(Principal, oa.principal_id)
    assert principal is not None
    month = calendar_month(now, platform.settings.timezone)
    limit = monthly_limit(principal.type, platform.limits)
    return QuotaStatus(month=month, limit=limit, used=counters.used(session, oa.id, counters.REGISTRATION, month))


def links_this_month(session: Session, oa: OfficialAccount, now: datetime, platform: Platform) -> int:
    return counters.used(session, oa.id, counters.LINK, calendar_month(now, platform.settings.timezone))


def _pending_count(oa_id: int) -> Select[int]:
    return (
        select(func.count())
        .select_from(Registration)
        .where(Registration.oa_id == oa_id, Registration.status == RegistrationStatus.PENDING.value)
    )


def has_pending(session: Session, oa_id: int) -> bool:
    return bool(session.execute(_pending_count(oa_id)).scalar_one())


def eligibility_input(
    session: Session,
    oa: OfficialAccount,
    now: datetime,
    platform: Platform,
    *,
    ignore_pending_id: int | None = None,
    reuse_certification: bool | None = None,
    scan_valid: bool | None = None,
    component: ComponentFacts | None = None,
) -> EligibilityInput:
    """Gather the facts the domain's eligibility rules read, in one query. ``ignore_pending_id``: the
    registration being completed is itself the pending one, so it does not block itself."""
    month = calendar_month(now, platform.settings.timezone)
    used = (
        select(MonthlyCounter.used)
        .where(
            MonthlyCounter.oa_id == oa.id,
            MonthlyCounter.kind == counters.REGISTRATION,
            MonthlyCounter.month == month,
        )
        .scalar_subquery()
    )
    # A pending registration left longer than its time to live has expired, even before anything marks it so.
    stale_before = now - timedelta(seconds=platform.settings.pending_ttl_seconds)
    pending = _pending_count(oa.id).where(Registration.updated_at > stale_before)
    if ignore_pending_id is not None:
        pending = pending.where(Registration.id != ignore_pending_id)
    row = session.execute(
        select(
            Principal.type,
            Principal.blacklisted,
            Principal.mp_count,
            used.label("used"),
            pending.scalar_subquery().label("pending"),
        ).where(Principal.id == oa.principal_id)
    ).one()
    return EligibilityInput(
        oa=oa,
        principal=PrincipalRow(row.type, row.blacklisted),
        principal_mp_count=row.mp_count,
        quota=QuotaStatus(month=month, limit=monthly_limit(row.type, platform.limits), used=row.used or 0),
        has_pending=bool(row.pending),
        now=now,
        limits=platform.limits,
        reuse_certification=reuse_certification,
        scan_valid=scan_valid,
        component=component,
    )


@dataclass(frozen=True)
class PrincipalRow:
    type: str
    blacklisted: bool


def spend(session: Session, oa: OfficialAccount, status: QuotaStatus, platform: Platform) -> None:
    """Count one completion against the OA's month and its principal's MP total, atomically in the database:
    a concurrent completion that would exceed either limit is refused here, whatever Python saw before."""
    if not counters.try_increment(session, oa.id, counters.REGISTRATION, status.month, status.limit):
        raise DomainError(Err.QUOTA_EXCEEDED, limit=status.limit)
    result = session.execute(
        update(Principal)
        .where(Principal.id == oa.principal_id, Principal.mp_count < platform.limits.principal_mps)
        .values(mp_count=Principal.mp_count + 1)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise DomainError(Err.PRINCIPAL_LIMIT)


__all__ = ["Stage", "eligibility_input", "has_pending", "links_this_month", "quota_status", "spend"]
