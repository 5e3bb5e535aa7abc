"""The OA's monthly fast-registration quota and link count, and the eligibility facts, read through the unit of
work (the counters are spent atomically by the repositories)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastreg.domain.entities import OfficialAccount
from fastreg.domain.rules import EligibilityFacts, QuotaStatus, calendar_month, monthly_limit
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.ports.registrations import LINK, REGISTRATION


def quota_status(uow: UnitOfWork, oa: OfficialAccount, now: datetime, context: Context) -> QuotaStatus:
    principal = uow.accounts.principal(oa.principal_id)
    assert principal is not None
    month = calendar_month(now, context.settings.timezone)
    limit = monthly_limit(principal.type, context.limits)
    return QuotaStatus(month=month, limit=limit, used=uow.counters.used(oa.id, REGISTRATION, month))


def links_this_month(uow: UnitOfWork, oa: OfficialAccount, now: datetime, context: Context) -> int:
    return uow.counters.used(oa.id, LINK, calendar_month(now, context.settings.timezone))


def eligibility_facts(
    uow: UnitOfWork, context: Context, oa: OfficialAccount, *, ignore_registration_id: int | None = None
) -> EligibilityFacts:
    """The facts the domain's eligibility rules read, in one query. ``ignore_registration_id``: the registration
    being completed is itself the pending one, so it does not block itself. A pending registration left longer
    than its time to live has expired, even before anything marks it so."""
    now = uow.clock.now()
    return uow.registrations.eligibility(
        oa,
        now=now,
        month=calendar_month(now, context.settings.timezone),
        limits=context.limits,
        pending_since=now - timedelta(seconds=context.settings.pending_ttl_seconds),
        ignore_registration_id=ignore_registration_id,
    )
