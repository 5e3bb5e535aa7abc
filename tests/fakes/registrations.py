"""In-memory repositories of the registrations area (``services/ports/registrations.py``) for the service tests."""

from __future__ import annotations

from datetime import datetime

from tests.fakes.store import FakeStore


class FakeRegistrationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        from fastreg.domain.entities import Registration
        from fastreg.domain.model import OPEN_STATUSES

        open_values = {s.value for s in OPEN_STATUSES}
        stale = self._store.where(Registration, lambda r: r.status in open_values and r.updated_at <= untouched_since)
        return sorted({r.oa_id for r in stale})


class FakeConfirmationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeCounterRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
