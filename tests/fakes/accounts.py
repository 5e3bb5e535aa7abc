"""In-memory repositories of the accounts area (``services/ports/accounts.py``) for the service tests."""

from __future__ import annotations

from tests.fakes.store import FakeStore


class FakeAccountRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeSessionRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeWechatUserRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
