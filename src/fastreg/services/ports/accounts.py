"""Ports of the accounts area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fastreg.domain.entities import (
    AuditEvent,
    AuditEventValues,
    LoginFailure,
    MiniProgram,
    OfficialAccount,
    Operator,
    Principal,
    WebSession,
    WechatUser,
)


class AccountRepository(Protocol):
    """Official Accounts, Mini Programs, principals, operators, the platform-wide identifiers and the emails
    bound to a personal WeChat."""

    def official_account(self, appid: str) -> OfficialAccount:
        """The OA of ``appid``; ``DomainError(INVALID_APPID)`` when there is none."""
        ...

    def find_official_account(self, appid: str) -> OfficialAccount | None: ...

    def official_account_by_id(self, oa_id: int) -> OfficialAccount: ...

    def has_official_accounts(self) -> bool: ...

    def find_mini_program(self, appid: str) -> MiniProgram | None: ...

    def mini_program_with_email(self, email: str) -> MiniProgram | None: ...

    def principal(self, principal_id: int) -> Principal: ...

    def principal_named(self, name: str) -> Principal | None: ...

    def operator(self, operator_id: int) -> Operator | None: ...

    def operator_with_email(self, email: str) -> Operator | None: ...

    def add(self, entity: Principal | OfficialAccount | Operator, /) -> None:
        """Store a new entity; it has its ``id`` on return."""
        ...

    def claim_identifier(self, value: str, kind: str) -> None:
        """Reserve an appid, original_id or email platform-wide; ``DomainError`` (EMAIL_TAKEN for an email,
        INVALID_APPID otherwise) when it is taken. A refusal leaves the transaction usable."""
        ...

    def release_identifier(self, value: str) -> None: ...

    def identifier_taken(self, value: str) -> bool: ...

    def new_account_ids(self) -> tuple[str, str]:
        """A fresh (appid, original_id) pair, reserved platform-wide."""
        ...

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None: ...

    def release_email(self, email: str) -> None:
        """Give back an email reserved by a registration that did not complete."""
        ...

    def bound_to_personal_wechat(self, email: str) -> bool: ...


class AuditLog(Protocol):
    def add(self, event: AuditEventValues, /) -> None: ...

    def count_oa_events(self, oa_appid: str) -> int:
        """How many events the OA has."""
        ...

    def oa_events(self, oa_appid: str, offset: int, count: int) -> list[AuditEvent]:
        """The OA's events, the newest first (by time, then the last recorded first), ``count`` from ``offset``."""
        ...


class SessionRepository(Protocol):
    """Console sessions and the login failures the lockout counts."""

    def session(self, id_hash: str) -> WebSession | None: ...

    def add(self, session: WebSession, /) -> None: ...

    def remove(self, id_hash: str) -> None: ...

    def remove_expired(self, now: datetime) -> None: ...

    def remove_sessions_of(self, kind: str, account_id: int) -> None: ...

    def lock_login(self, scope: str, name: str) -> None:
        """Make concurrent logins with one name take turns until the transaction ends (each then sees the
        failures recorded before it)."""
        ...

    def login_failures(self, scope: str, name: str, since: datetime) -> list[datetime]:
        """The times of the failures after ``since``, oldest first."""
        ...

    def add_login_failure(self, failure: LoginFailure, /) -> None: ...


class WechatUserRepository(Protocol):
    def user(self, user_id: int) -> WechatUser | None: ...

    def user_with_wxid(self, wxid: str) -> WechatUser | None: ...

    def add(self, user: WechatUser, /) -> bool:
        """Store a new WeChat user (it has its ``id`` on return); False, and nothing stored, when one with
        that wxid exists (also one added by a concurrent transaction)."""
        ...
