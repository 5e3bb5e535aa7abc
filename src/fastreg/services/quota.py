"""The OA's monthly fast-registration quota and link count, read and spent in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from fastreg.adapters.db import counters
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import OfficialAccount, Principal
from fastreg.adapters.db.prepared import PreparedConnection, Rows
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import OfficialAccountFacts
from fastreg.domain.rules import ComponentFacts, EligibilityFacts, QuotaStatus, calendar_month, monthly_limit
from fastreg.platform import Platform


def quota_status(session: Session, oa: OfficialAccount, now: datetime, platform: Platform) -> QuotaStatus:
    principal = session.get(Principal, oa.principal_id)
    assert principal is not None
    month = calendar_month(now, platform.settings.timezone)
    limit = monthly_limit(principal.type, platform.limits)
    return QuotaStatus(month=month, limit=limit, used=counters.used(session, oa.id, counters.REGISTRATION, month))


def links_this_month(session: Session, oa: OfficialAccount, now: datetime, platform: Platform) -> int:
    return counters.used(session, oa.id, counters.LINK, calendar_month(now, platform.settings.timezone))


class AccountFacts(OfficialAccountFacts, Protocol):
    """The OA as eligibility and spending read it (an ORM row or a row read by a prepared statement)."""

    @property
    def id(self) -> int: ...
    @property
    def appid(self) -> str: ...
    @property
    def principal_id(self) -> int: ...


@dataclass(frozen=True)
class PrincipalRow:
    type: str
    blacklisted: bool


def eligibility_input(
    conn: PreparedConnection,
    oa: AccountFacts,
    now: datetime,
    platform: Platform,
    *,
    ignore_pending_id: int | None = None,
    reuse_certification: bool | None = None,
    scan_valid: bool | None = None,
    component: ComponentFacts | None = None,
) -> EligibilityFacts:
    """Gather the facts the domain's eligibility rules read, in one query. ``ignore_pending_id``: the
    registration being completed is itself the pending one, so it does not block itself. A pending
    registration left longer than its time to live has expired, even before anything marks it so."""
    return EligibilityQuery(conn, oa, now, platform, ignore_pending_id).facts(
        reuse_certification=reuse_certification, scan_valid=scan_valid, component=component
    )


class EligibilityQuery:
    """:func:`eligibility_input` in two halves: the query is sent when this is made (inside a batch, along
    with the caller's other reads), the facts are built when asked for."""

    def __init__(
        self,
        conn: PreparedConnection,
        oa: AccountFacts,
        now: datetime,
        platform: Platform,
        ignore_pending_id: int | None = None,
    ) -> None:
        self._oa, self._now, self._platform = oa, now, platform
        self._month = calendar_month(now, platform.settings.timezone)
        self._rows = conn.execute(
            sql.ELIGIBILITY,
            {
                "principal_id": oa.principal_id,
                "oa_id": oa.id,
                "counter_kind": counters.REGISTRATION,
                "month": self._month,
                "stale_before": now - timedelta(seconds=platform.settings.pending_ttl_seconds),
                "ignore_registration_id": -1 if ignore_pending_id is None else ignore_pending_id,
            },
        )

    def facts(
        self,
        *,
        reuse_certification: bool | None = None,
        scan_valid: bool | None = None,
        component: ComponentFacts | None = None,
    ) -> EligibilityFacts:
        row = self._rows.one()
        limits = self._platform.limits
        return EligibilityFacts(
            oa=self._oa,
            principal=PrincipalRow(row.type, row.blacklisted),
            principal_mp_count=row.mp_count,
            quota=QuotaStatus(month=self._month, limit=monthly_limit(row.type, limits), used=row.used or 0),
            has_pending=bool(row.pending),
            now=self._now,
            limits=limits,
            reuse_certification=reuse_certification,
            scan_valid=scan_valid,
            component=component,
        )


@dataclass(frozen=True)
class Spending:
    """A completion counted against the OA's month and its principal's MP total by two conditional statements
    (atomic in the database: a concurrent completion that would exceed either limit is refused there, whatever
    Python saw before). Sent with the rest of the completion's writes; ``confirm`` reads them afterwards."""

    counted: Rows
    principal_counted: Rows
    limit: int

    def confirm(self) -> None:
        """Refuse (in the order of the errcode table), which rolls the whole completion back."""
        if not self.principal_counted.rowcount:
            raise DomainError(Err.PRINCIPAL_LIMIT)
        if self.counted.first() is None:
            raise DomainError(Err.QUOTA_EXCEEDED, limit=self.limit)


def spend(conn: PreparedConnection, oa: AccountFacts, status: QuotaStatus, platform: Platform) -> Spending:
    if status.limit <= 0:
        raise DomainError(Err.QUOTA_EXCEEDED, limit=status.limit)
    counted = counters.increment(conn, oa.id, counters.REGISTRATION, status.month, status.limit)
    principal_counted = conn.execute(
        sql.SPEND_PRINCIPAL, {"principal_id": oa.principal_id, "limit": platform.limits.principal_mps}
    )
    return Spending(counted, principal_counted, status.limit)
