"""In-memory repositories of the components area (``services/ports/components.py``) for the service tests."""

from __future__ import annotations

from tests.fakes.store import FakeStore


class FakeComponentRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeAuthorizationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeLinkRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeVerificationTaskRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
