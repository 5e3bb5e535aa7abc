"""In-memory repositories of the credentials area (``services/ports/credentials.py``) for the service tests."""

from __future__ import annotations

from tests.fakes.store import FakeStore


class FakeCredentialRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.domain.entities import Credential

        found = self._store.first(Credential, lambda c: c.token_hash == token_hash)
        return None if found is None else found.subject


class FakeFastRegisterGateway:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
