"""In-memory repositories of the accounts area (``services/ports/accounts.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import (
    AuditEvent,
    Identifier,
    MiniProgram,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
)
from fastreg.domain.errors import DomainError, Err
from tests.fakes.store import FakeStore


class FakeAccountRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    # Used by the registrations area.
    def official_account_by_id(self, oa_id: int) -> OfficialAccount | None:
        return self._store.first(OfficialAccount, lambda oa: oa.id == oa_id)

    def principal(self, principal_id: int) -> Principal | None:
        return self._store.first(Principal, lambda p: p.id == principal_id)

    def operator(self, operator_id: int) -> Operator | None:
        return self._store.first(Operator, lambda o: o.id == operator_id)

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda mp: mp.id == mp_id)

    def identifier_taken(self, value: str) -> bool:
        return self._store.first(Identifier, lambda i: i.value == value) is not None

    def claim_identifier(self, value: str, kind: str) -> None:
        if self.identifier_taken(value):
            raise DomainError(Err.EMAIL_TAKEN if kind == "email" else Err.INVALID_APPID, field=kind)
        self._store.add(Identifier(value=value, kind=kind))

    def release_email(self, email: str) -> None:
        reserved = self._store.first(Identifier, lambda i: i.value == email and i.kind == "email")
        if reserved is not None:
            self._store.remove(reserved)

    def bound_to_personal_wechat(self, email: str) -> bool:
        return self._store.first(PersonalWechatEmail, lambda e: e.email == email) is not None


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    # Used by the registrations area.
    def add(self, event: AuditEvent) -> None:
        self._store.add(event)


class FakeSessionRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeWechatUserRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
