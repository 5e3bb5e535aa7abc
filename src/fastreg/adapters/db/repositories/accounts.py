"""SQL repositories of the accounts area (``services/ports/accounts.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from fastreg.adapters.db import locks
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import (
    AuditEvent,
    Identifier,
    LoginFailure,
    MiniProgram,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
    WebSession,
    WechatUser,
    audit_events,
    identifiers,
    login_failures,
    mini_programs,
    official_accounts,
    operators,
    principals,
    web_sessions,
    wechat_users,
)
from fastreg.adapters.db.repositories import columns_of
from fastreg.domain import secrets
from fastreg.domain.entities import AuditEventValues
from fastreg.domain.errors import DomainError, Err

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


_CLAIM_IDENTIFIER = {
    "sqlite": sqlite.insert(identifiers).on_conflict_do_nothing().returning(identifiers.c.value),
    "postgresql": postgresql.insert(identifiers).on_conflict_do_nothing().returning(identifiers.c.value),
}


class SqlAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def official_account(self, appid: str) -> OfficialAccount:
        oa = self.find_official_account(appid)
        if oa is None:
            raise DomainError(Err.INVALID_APPID)
        return oa

    def find_official_account(self, appid: str) -> OfficialAccount | None:
        query = select(OfficialAccount).where(official_accounts.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def official_account_by_id(self, oa_id: int) -> OfficialAccount:
        oa = self._uow.session.get(OfficialAccount, oa_id)
        assert oa is not None, "referred to by a foreign key"
        return oa

    def has_official_accounts(self) -> bool:
        return bool(self._uow.session.execute(select(exists().select_from(official_accounts))).scalar())

    def find_mini_program(self, appid: str) -> MiniProgram | None:
        query = select(MiniProgram).where(mini_programs.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def mini_program_with_email(self, email: str) -> MiniProgram | None:
        query = select(MiniProgram).where(mini_programs.c.email == email)
        return self._uow.session.execute(query).scalar_one_or_none()

    def principal(self, principal_id: int) -> Principal:
        principal = self._uow.session.get(Principal, principal_id)
        assert principal is not None, "referred to by a foreign key"
        return principal

    def principal_named(self, name: str) -> Principal | None:
        query = select(Principal).where(principals.c.name == name)
        return self._uow.session.execute(query).scalar_one_or_none()

    def operator(self, operator_id: int) -> Operator | None:
        return self._uow.session.get(Operator, operator_id)

    def operator_with_email(self, email: str) -> Operator | None:
        query = select(Operator).where(operators.c.email == email)
        return self._uow.session.execute(query).scalar_one_or_none()

    def add(self, entity: Principal | OfficialAccount | Operator, /) -> None:
        session = self._uow.session
        session.add(entity)
        session.flush()

    def claim_identifier(self, value: str, kind: str) -> None:
        # INSERT ... ON CONFLICT DO NOTHING: a taken value inserts nothing and fails nothing, so the transaction
        # goes on without a savepoint around the insert (a concurrent claim of the same value waits for the
        # other transaction's outcome on PostgreSQL, and SQLite has one writer).
        claim = _CLAIM_IDENTIFIER[self._uow.session.get_bind().dialect.name]
        if self._uow.session.execute(claim, {"value": value, "kind": kind}).first() is None:
            raise DomainError(Err.EMAIL_TAKEN if kind == "email" else Err.INVALID_APPID, field=kind)

    def release_identifier(self, value: str) -> None:
        self._uow.session.execute(delete(identifiers).where(identifiers.c.value == value))

    def identifier_taken(self, value: str) -> bool:
        return self._uow.session.get(Identifier, value) is not None

    def new_account_ids(self) -> tuple[str, str]:
        # Random (64 and 48 bits), so no savepoint is spent on a collision: one would fail the whole
        # transaction, which changes nothing. One statement for both (in a batch on the fast path).
        appid, original_id = secrets.new_appid(), secrets.new_original_id()
        self._uow.conn.execute(
            sql.INSERT_IDENTIFIER, [{"value": appid, "kind": "appid"}, {"value": original_id, "kind": "original_id"}]
        )
        return appid, original_id

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._uow.session.get(MiniProgram, mp_id)

    def release_email(self, email: str) -> None:
        session = self._uow.session
        reserved = session.get(Identifier, email)
        if reserved is not None and reserved.kind == "email":
            session.delete(reserved)
            session.flush()

    def bound_to_personal_wechat(self, email: str) -> bool:
        return self._uow.session.get(PersonalWechatEmail, email) is not None


class SqlAuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, event: AuditEventValues, /) -> None:
        # A statement, not the session: no other row refers to an event, and a use case that only audits (a
        # refused registration) then makes no session at all.
        self._uow.conn.execute(sql.INSERT_AUDIT, columns_of(event))

    def count_oa_events(self, oa_appid: str) -> int:
        query = select(func.count()).select_from(audit_events).where(audit_events.c.oa_appid == oa_appid)
        return self._uow.session.execute(query).scalar_one()

    def oa_events(self, oa_appid: str, offset: int, count: int) -> list[AuditEvent]:
        query = (
            select(AuditEvent)
            .where(audit_events.c.oa_appid == oa_appid)
            .order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
            .offset(offset)
            .limit(count)
        )
        return list(self._uow.session.execute(query).scalars())


class SqlSessionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def session(self, id_hash: str) -> WebSession | None:
        return self._uow.session.get(WebSession, id_hash)

    def add(self, session: WebSession, /) -> None:
        self._uow.session.add(session)

    def remove(self, id_hash: str) -> None:
        self._uow.session.execute(delete(web_sessions).where(web_sessions.c.id_hash == id_hash))

    def remove_expired(self, now: datetime) -> None:
        self._uow.session.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))

    def remove_sessions_of(self, kind: str, account_id: int) -> None:
        self._uow.session.execute(
            delete(web_sessions).where(web_sessions.c.kind == kind, web_sessions.c.account_id == account_id)
        )

    def lock_login(self, scope: str, name: str) -> None:
        # PostgreSQL: an advisory lock on the name; SQLite: the write transaction holds the database already.
        locks.lock_name(self._uow.session, f"login:{scope}:{name}")

    def login_failures(self, scope: str, name: str, since: datetime) -> list[datetime]:
        c = login_failures.c
        query = select(c.at).where(c.scope == scope, c.email == name, c.at > since).order_by(c.at)
        return list(self._uow.session.execute(query).scalars())

    def add_login_failure(self, failure: LoginFailure, /) -> None:
        self._uow.session.add(failure)


class SqlWechatUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def user(self, user_id: int) -> WechatUser | None:
        return self._uow.session.get(WechatUser, user_id)

    def user_with_wxid(self, wxid: str) -> WechatUser | None:
        query = select(WechatUser).where(wechat_users.c.wxid == wxid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def add(self, user: WechatUser, /) -> bool:
        session = self._uow.session
        try:
            with session.begin_nested():  # a concurrent one with that wxid: refused here, the rest stands
                session.add(user)
        except IntegrityError:
            return False
        return True
