"""In-memory repositories of the credentials area (``services/ports/credentials.py``) for the service tests."""

from __future__ import annotations

from datetime import datetime

from fastreg.domain.entities import Credential
from tests.fakes.store import FakeStore


class FakeCredentialRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, credential: Credential, /) -> None:
        self._store.add(credential)

    def credential(self, token_hash: str) -> Credential | None:
        return self._store.first(Credential, lambda row: row.token_hash == token_hash)

    def use(self, credential: Credential, now: datetime) -> bool:
        if credential.used_at is not None:
            return False
        credential.used_at = now
        return True

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        for row in self._store.where(Credential, lambda r: r.kind == kind and r.subject == subject):
            if row.used_at is None:
                row.used_at = now

    def get(self, token_hash: str) -> Credential | None:
        return self._store.first(Credential, lambda c: c.token_hash == token_hash)

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.domain.entities import Credential

        found = self._store.first(Credential, lambda c: c.token_hash == token_hash)
        return None if found is None else found.subject


class FakeFastRegisterGateway:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
