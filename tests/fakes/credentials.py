"""In-memory repositories of the credentials area (``services/ports/credentials.py``) for the service tests."""

from __future__ import annotations

from tests.fakes.store import FakeStore


class FakeCredentialRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeFastRegisterGateway:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
