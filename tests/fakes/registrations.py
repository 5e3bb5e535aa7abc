"""In-memory repositories of the registrations area (``services/ports/registrations.py``) for the service tests."""

from __future__ import annotations

from datetime import datetime

from fastreg.domain.entities import Confirmation, MonthlyCounter
from fastreg.domain.model import ConfirmationKind, ConfirmationStatus
from tests.fakes.store import FakeStore


class FakeRegistrationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeConfirmationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, confirmation: Confirmation) -> None:
        self._store.add(confirmation)

    def confirmation(self, digest: str) -> Confirmation | None:
        return self._store.first(Confirmation, lambda c: c.id == digest)

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
