"""In-memory repositories of the registrations area (``services/ports/registrations.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import Registration
from fastreg.domain.model import RegistrationStatus
from tests.fakes.store import FakeStore


class FakeRegistrationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def pending_with_email(self, email: str) -> Registration | None:
        pending = self._store.where(
            Registration, lambda row: row.email == email and row.status == RegistrationStatus.PENDING.value
        )
        return max(pending, key=lambda row: row.id, default=None)


class FakeConfirmationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeCounterRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
