"""SQL repositories of the registrations area (``services/ports/registrations.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from fastreg.adapters.db import counters
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import (
    Confirmation,
    OfficialAccount,
    Registration,
    components,
    confirmations,
    mini_programs,
    official_accounts,
    registrations,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import (
    OPEN_STATUSES,
    ConfirmationKind,
    ConfirmationStatus,
    OfficialAccountFacts,
)
from fastreg.domain.rules import (
    EligibilityFacts,
    QuotaLimits,
    QuotaStatus,
    monthly_limit,
)

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork

_OPEN = [status.value for status in OPEN_STATUSES]
# The worker asks at every pass (a prepared statement): the OAs with an open registration untouched too long.
# The statuses as equalities: the prepared layer binds no IN lists.
_OAS_WITH_STALE_OPEN = (
    select(registrations.c.oa_id)
    .where(
        or_(*(registrations.c.status == status for status in _OPEN)),
        registrations.c.updated_at <= bindparam("untouched_since"),
    )
    .distinct()
)


@dataclass(frozen=True)
class _Principal:
    type: str
    blacklisted: bool


def _facts(row: Any, oa: OfficialAccountFacts, now: datetime, month: str, limits: QuotaLimits) -> EligibilityFacts:
    """:class:`EligibilityFacts` from a row of ``statements.ELIGIBILITY`` (the one facts query)."""
    return EligibilityFacts(
        oa=oa,
        principal=_Principal(row.type, row.blacklisted),
        principal_mp_count=row.mp_count,
        quota=QuotaStatus(month=month, limit=monthly_limit(row.type, limits), used=row.used or 0),
        has_pending=bool(row.pending),
        now=now,
        limits=limits,
    )


def _eligibility_params(
    oa_id: int, principal_id: int, month: str, pending_since: datetime, ignore_registration_id: int | None
) -> dict[str, Any]:
    return {
        "principal_id": principal_id,
        "oa_id": oa_id,
        "counter_kind": counters.REGISTRATION,
        "month": month,
        "stale_before": pending_since,
        "ignore_registration_id": -1 if ignore_registration_id is None else ignore_registration_id,
    }


class SqlRegistrationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, registration: Registration) -> Registration:
        session = self._uow.session
        session.add(registration)
        session.flush()
        return registration

    def get(self, registration_id: int) -> Registration | None:
        return self._uow.session.get(Registration, registration_id)

    def open_for(self, oa_id: int, channel: str) -> Registration | None:
        c = registrations.c
        return self._uow.session.execute(
            select(Registration)
            .where(c.oa_id == oa_id, c.channel == channel, c.status.in_(_OPEN))
            .order_by(c.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def stale_for(self, oa_id: int, untouched_since: datetime) -> list[Registration]:
        c = registrations.c
        rows = self._uow.session.execute(
            select(Registration)
            .where(c.oa_id == oa_id, c.status.in_(_OPEN), c.updated_at <= untouched_since)
            .with_for_update()  # workers sweeping at once: the second one waits, then finds it closed
        )
        return list(rows.scalars())

    def save(self, registration: Registration) -> None:
        try:
            self._uow.session.flush()  # the partial unique index refuses a second pending registration
        except IntegrityError:
            raise DomainError(Err.PENDING_EXISTS) from None

    def eligibility(
        self,
        oa: OfficialAccount,
        *,
        now: datetime,
        month: str,
        limits: QuotaLimits,
        pending_since: datetime,
        ignore_registration_id: int | None = None,
    ) -> EligibilityFacts:
        params = _eligibility_params(oa.id, oa.principal_id, month, pending_since, ignore_registration_id)
        row = self._uow.conn.execute(sql.ELIGIBILITY, params).one()
        return _facts(row, oa, now, month, limits)

    def pending_with_email(self, email: str) -> Registration | None:
        c = registrations.c
        query = (
            select(Registration).where(c.email == email, c.status == sql.PENDING_STATUS).order_by(c.id.desc()).limit(1)
        )
        return self._uow.session.execute(query).scalar_one_or_none()

    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        stale = self._uow.conn.execute(_OAS_WITH_STALE_OPEN, {"untouched_since": untouched_since})
        return [int(row.oa_id) for row in stale.rows]


class SqlConfirmationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, confirmation: Confirmation) -> None:
        session = self._uow.session
        session.add(confirmation)
        session.flush()

    def get(self, digest: str) -> Confirmation | None:
        return self._uow.session.get(Confirmation, digest)

    def claim(self, confirmation: Confirmation, status: str, now: datetime) -> bool:
        c = confirmations.c
        claimed = self._uow.session.execute(
            update(confirmations)
            .where(c.id == confirmation.id, c.status == ConfirmationStatus.PENDING.value)
            .values(status=status, answered_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if claimed:
            confirmation.status, confirmation.answered_at = status, now
        return bool(claimed)

    def close(self, confirmation: Confirmation, now: datetime) -> None:
        confirmation.status, confirmation.answered_at = ConfirmationStatus.CANCELLED.value, now

    def for_wxid(self, wxid: str) -> list[Confirmation]:
        c = confirmations.c
        rows = self._uow.session.execute(select(Confirmation).where(c.allowed_wxid == wxid).order_by(c.created_at))
        return list(rows.scalars())

    def account_name(self, appid: str) -> str | None:
        for table in (official_accounts, mini_programs, components):
            name = self._uow.session.execute(select(table.c.name).where(table.c.appid == appid)).scalar_one_or_none()
            if name:
                return str(name)
        return None

    def pending(self, kind: ConfirmationKind, account_appid: str, now: datetime) -> list[Confirmation]:
        c = confirmations.c
        query = select(Confirmation).where(
            c.kind == kind.value,
            c.account_appid == account_appid,
            c.status == ConfirmationStatus.PENDING.value,
            c.expires_at > now,
        )
        return list(self._uow.session.execute(query).scalars())


class SqlCounterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def used(self, oa_id: int, kind: str, month: str) -> int:
        return counters.used(self._uow.session, oa_id, kind, month)

    def try_increment(self, oa_id: int, kind: str, month: str, limit: int) -> bool:
        return counters.try_increment(self._uow.session, oa_id, kind, month, limit)

    def links_used(self, oa_id: int, month: str) -> int:
        return counters.used(self._uow.session, oa_id, counters.LINK, month)

    def try_count_link(self, oa_id: int, month: str, limit: int) -> bool:
        return counters.try_increment(self._uow.session, oa_id, counters.LINK, month, limit)
