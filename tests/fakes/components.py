"""In-memory repositories of the components area (``services/ports/components.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import Component
from fastreg.domain.errors import DomainError, Err
from tests.fakes.store import FakeStore


class FakeComponentRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def component(self, appid: str) -> Component:
        component = self._store.first(Component, lambda row: row.appid == appid)
        if component is None:
            raise DomainError(Err.INVALID_APPID)
        return component


class FakeAuthorizationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeLinkRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeVerificationTaskRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
