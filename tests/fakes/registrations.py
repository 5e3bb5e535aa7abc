"""In-memory repositories of the registrations area (``services/ports/registrations.py``) for the service tests."""

from __future__ import annotations

from datetime import datetime

from fastreg.domain.entities import (
    Component,
    Confirmation,
    MiniProgram,
    MonthlyCounter,
    OfficialAccount,
    Principal,
    Registration,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind, ConfirmationStatus, RegistrationStatus
from fastreg.domain.rules import EligibilityFacts, QuotaLimits, QuotaStatus, monthly_limit
from fastreg.services.ports.registrations import REGISTRATION
from tests.fakes.store import FakeStore


class FakeRegistrationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, registration: Registration) -> Registration:
        self._store.add(registration)
        self.save(registration)
        return registration

    def get(self, registration_id: int) -> Registration | None:
        return self._store.first(Registration, lambda r: r.id == registration_id)

    def open_for(self, oa_id: int, channel: str) -> Registration | None:
        found = [r for r in self._store.all(Registration) if r.oa_id == oa_id and r.channel == channel and r.is_open]
        return max(found, key=lambda r: r.id, default=None)

    def stale_for(self, oa_id: int, untouched_since: datetime) -> list[Registration]:
        return list(
            self._store.where(
                Registration, lambda r: r.oa_id == oa_id and r.is_open and r.updated_at <= untouched_since
            )
        )

    def save(self, registration: Registration) -> None:
        """The database's partial unique index: one pending registration per OA."""
        if registration.status == RegistrationStatus.PENDING and any(
            other is not registration
            and other.oa_id == registration.oa_id
            and other.status == RegistrationStatus.PENDING
            for other in self._store.all(Registration)
        ):
            raise DomainError(Err.PENDING_EXISTS)

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
        principal = self._store.first(Principal, lambda p: p.id == oa.principal_id)
        assert principal is not None
        used = FakeCounterRepository(self._store).used(oa.id, REGISTRATION, month)
        pending = any(
            r.oa_id == oa.id
            and r.status == RegistrationStatus.PENDING
            and r.updated_at > pending_since
            and r.id != ignore_registration_id
            for r in self._store.all(Registration)
        )
        return EligibilityFacts(
            oa=oa,
            principal=principal,
            principal_mp_count=principal.mp_count,
            quota=QuotaStatus(month=month, limit=monthly_limit(principal.type, limits), used=used),
            has_pending=pending,
            now=now,
            limits=limits,
        )

    def pending_with_email(self, email: str) -> Registration | None:
        pending = self._store.where(
            Registration, lambda row: row.email == email and row.status == RegistrationStatus.PENDING.value
        )
        return max(pending, key=lambda row: row.id, default=None)

    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        from fastreg.domain.entities import Registration
        from fastreg.domain.model import OPEN_STATUSES

        open_values = {s.value for s in OPEN_STATUSES}
        stale = self._store.where(Registration, lambda r: r.status in open_values and r.updated_at <= untouched_since)
        return sorted({r.oa_id for r in stale})


class FakeConfirmationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, confirmation: Confirmation) -> None:
        self._store.add(confirmation)

    def get(self, digest: str) -> Confirmation | None:
        return self._store.first(Confirmation, lambda c: c.id == digest)

    def claim(self, confirmation: Confirmation, status: str, now: datetime) -> bool:
        if confirmation.status != ConfirmationStatus.PENDING:
            return False
        confirmation.status, confirmation.answered_at = status, now
        return True

    def close(self, confirmation: Confirmation, now: datetime) -> None:
        confirmation.status, confirmation.answered_at = ConfirmationStatus.CANCELLED.value, now

    def for_wxid(self, wxid: str) -> list[Confirmation]:
        return sorted(self._store.where(Confirmation, lambda c: c.allowed_wxid == wxid), key=lambda c: c.created_at)

    def account_name(self, appid: str) -> str | None:
        for kind in (OfficialAccount, MiniProgram, Component):
            account = self._store.first(kind, lambda a: a.appid == appid)
            if account is not None and account.name:
                return str(account.name)
        return None

    def pending(self, kind: ConfirmationKind, account_appid: str, now: datetime) -> list[Confirmation]:
        return list(
            self._store.where(
                Confirmation,
                lambda c: (
                    c.kind == kind.value
                    and c.account_appid == account_appid
                    and c.status == ConfirmationStatus.PENDING.value
                    and c.expires_at > now
                ),
            )
        )


class FakeCounterRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def _counter(self, oa_id: int, kind: str, month: str) -> MonthlyCounter | None:
        return self._store.first(MonthlyCounter, lambda c: (c.oa_id, c.kind, c.month) == (oa_id, kind, month))

    def used(self, oa_id: int, kind: str, month: str) -> int:
        counter = self._counter(oa_id, kind, month)
        return counter.used if counter else 0

    def try_increment(self, oa_id: int, kind: str, month: str, limit: int) -> bool:
        counter = self._counter(oa_id, kind, month) or self._store.add(
            MonthlyCounter(oa_id=oa_id, kind=kind, month=month)
        )
        if counter.used >= limit:
            return False
        counter.used += 1
        return True

    def _link_counter(self, oa_id: int, month: str) -> MonthlyCounter | None:
        return self._store.first(MonthlyCounter, lambda c: (c.oa_id, c.kind, c.month) == (oa_id, "link", month))

    def links_used(self, oa_id: int, month: str) -> int:
        counter = self._link_counter(oa_id, month)
        return counter.used if counter else 0

    def try_count_link(self, oa_id: int, month: str, limit: int) -> bool:
        counter = self._link_counter(oa_id, month) or self._store.add(
            MonthlyCounter(oa_id=oa_id, kind="link", month=month)
        )
        if counter.used >= limit:
            return False
        counter.used += 1
        return True
