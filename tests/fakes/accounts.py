"""In-memory repositories of the accounts area (``services/ports/accounts.py``) for the service tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount, Principal
from fastreg.domain.model import AuditKind
from tests.fakes.store import FakeStore


class FakeAccountRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def official_account(self, appid: str) -> OfficialAccount | None:
        return self._store.first(OfficialAccount, lambda oa: oa.appid == appid)

    def mini_program(self, appid: str) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda mp: mp.appid == appid)

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda mp: mp.id == mp_id)

    def principal_by_id(self, principal_id: int) -> Principal | None:
        return self._store.first(Principal, lambda p: p.id == principal_id)


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def record(
        self,
        at: datetime,
        kind: AuditKind,
        actor: str,
        *,
        oa_appid: str | None = None,
        mp_appid: str | None = None,
        **detail: Any,
    ) -> None:
        event = AuditEvent(
            at=at, kind=kind.value, actor=actor, oa_appid=oa_appid, mp_appid=mp_appid, detail=detail or None
        )
        self._store.add(event)


class FakeSessionRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeWechatUserRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
