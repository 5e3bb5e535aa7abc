"""In-memory repositories of the accounts area (``services/ports/accounts.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from tests.fakes.store import FakeStore


class FakeAccountRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def official_account(self, appid: str) -> OfficialAccount:
        oa = self.find_official_account(appid)
        if oa is None:
            raise DomainError(Err.INVALID_APPID)
        return oa

    def find_official_account(self, appid: str) -> OfficialAccount | None:
        return self._store.first(OfficialAccount, lambda row: row.appid == appid)

    def find_mini_program(self, appid: str) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda row: row.appid == appid)


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, event: AuditEvent, /) -> None:
        self._store.add(event)


class FakeSessionRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeWechatUserRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
