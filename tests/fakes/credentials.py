"""In-memory repositories of the credentials area (``services/ports/credentials.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import Credential
from tests.fakes.store import FakeStore


class FakeCredentialRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def credential(self, token_hash: str) -> Credential | None:
        return self._store.first(Credential, lambda c: c.token_hash == token_hash)

    def add(self, credential: Credential) -> None:
        self._store.add(credential)


class FakeFastRegisterGateway:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
