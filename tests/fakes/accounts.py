"""In-memory repositories of the accounts area (``services/ports/accounts.py``) for the service tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastreg.domain import secrets
from fastreg.domain.entities import (
    AuditEvent,
    AuditEventValues,
    Identifier,
    LoginFailure,
    MiniProgram,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
    WebSession,
    WechatUser,
)
from fastreg.domain.errors import DomainError, Err
from tests.fakes.store import FakeStore, entity_of


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

    def official_account_by_id(self, oa_id: int) -> OfficialAccount:
        oa = self._store.first(OfficialAccount, lambda row: row.id == oa_id)
        assert oa is not None
        return oa

    def has_official_accounts(self) -> bool:
        return bool(self._store.all(OfficialAccount))

    def find_mini_program(self, appid: str) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda row: row.appid == appid)

    def mini_program_with_email(self, email: str) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda row: row.email == email)

    def principal(self, principal_id: int) -> Principal:
        principal = self._store.first(Principal, lambda row: row.id == principal_id)
        assert principal is not None
        return principal

    def principal_named(self, name: str) -> Principal | None:
        return self._store.first(Principal, lambda row: row.name == name)

    def operator(self, operator_id: int) -> Operator | None:
        return self._store.first(Operator, lambda row: row.id == operator_id)

    def operator_with_email(self, email: str) -> Operator | None:
        return self._store.first(Operator, lambda row: row.email == email)

    def add(self, entity: Principal | OfficialAccount | Operator, /) -> None:
        """Refuses what the tables' unique constraints refuse (a bug in the service if it happens)."""
        unique = {Principal: ("name",), OfficialAccount: ("appid", "original_id"), Operator: ("email",)}
        for name in unique[type(entity)]:
            value = getattr(entity, name)
            if any(getattr(row, name) == value for row in self._store.all(type(entity))):
                raise AssertionError(f"unique constraint: {type(entity).__name__}.{name} {value!r}")
        self._store.add(entity)

    def claim_identifier(self, value: str, kind: str) -> None:
        if self.identifier_taken(value):
            raise DomainError(Err.EMAIL_TAKEN if kind == "email" else Err.INVALID_APPID, field=kind)
        self._store.add(Identifier(value=value, kind=kind))

    def release_identifier(self, value: str) -> None:
        for row in list(self._store.where(Identifier, lambda row: row.value == value)):
            self._store.remove(row)

    def identifier_taken(self, value: str) -> bool:
        return self._store.first(Identifier, lambda row: row.value == value) is not None

    def new_account_ids(self) -> tuple[str, str]:
        appid, original_id = secrets.new_appid(), secrets.new_original_id()
        self.claim_identifier(appid, "appid")
        self.claim_identifier(original_id, "original_id")
        return appid, original_id

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._store.first(MiniProgram, lambda mp: mp.id == mp_id)

    def release_email(self, email: str) -> None:
        reserved = self._store.first(Identifier, lambda i: i.value == email and i.kind == "email")
        if reserved is not None:
            self._store.remove(reserved)

    def bound_to_personal_wechat(self, email: str) -> bool:
        return self._store.first(PersonalWechatEmail, lambda e: e.email == email) is not None


class FakeAuditLog:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, event: AuditEventValues, /) -> None:
        self._store.add(entity_of(AuditEvent, event))

    def count_oa_events(self, oa_appid: str) -> int:
        return len(self._events_of(oa_appid))

    def oa_events(self, oa_appid: str, offset: int, count: int) -> list[AuditEvent]:
        newest_first = sorted(self._events_of(oa_appid), key=lambda e: (e.at, e.id), reverse=True)
        return newest_first[offset : offset + count]

    def _events_of(self, oa_appid: str) -> list[AuditEvent]:
        return list(self._store.where(AuditEvent, lambda e: e.oa_appid == oa_appid))


class FakeSessionRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def session(self, id_hash: str) -> WebSession | None:
        return self._store.first(WebSession, lambda row: row.id_hash == id_hash)

    def add(self, session: WebSession, /) -> None:
        self._store.add(session)

    def _remove_where(self, test: Callable[[WebSession], bool]) -> None:
        for row in [row for row in self._store.all(WebSession) if test(row)]:
            self._store.remove(row)

    def remove(self, id_hash: str) -> None:
        self._remove_where(lambda row: row.id_hash == id_hash)

    def remove_expired(self, now: datetime) -> None:
        self._remove_where(lambda row: row.expires_at <= now)

    def remove_sessions_of(self, kind: str, account_id: int) -> None:
        self._remove_where(lambda row: row.kind == kind and row.account_id == account_id)

    def lock_login(self, scope: str, name: str) -> None:
        pass  # one unit of work at a time

    def login_failures(self, scope: str, name: str, since: datetime) -> list[datetime]:
        rows = self._store.where(LoginFailure, lambda row: row.scope == scope and row.email == name and row.at > since)
        return sorted(row.at for row in rows)

    def add_login_failure(self, failure: LoginFailure, /) -> None:
        self._store.add(failure)


class FakeWechatUserRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def user(self, user_id: int) -> WechatUser | None:
        return self._store.first(WechatUser, lambda row: row.id == user_id)

    def user_with_wxid(self, wxid: str) -> WechatUser | None:
        return self._store.first(WechatUser, lambda row: row.wxid == wxid)

    def add(self, user: WechatUser, /) -> bool:
        if self.user_with_wxid(user.wxid) is not None:
            return False
        self._store.add(user)
        return True
