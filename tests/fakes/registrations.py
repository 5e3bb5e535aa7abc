"""In-memory repositories of the registrations area (``services/ports/registrations.py``) for the service tests."""

from __future__ import annotations

from tests.fakes.store import FakeStore


class FakeRegistrationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeConfirmationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeCounterRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
