"""Ports of the accounts area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount, Operator, Principal


class AccountRepository(Protocol):
    # Used by the registrations area.
    def official_account_by_id(self, oa_id: int) -> OfficialAccount | None: ...

    def principal(self, principal_id: int) -> Principal | None: ...

    def operator(self, operator_id: int) -> Operator | None: ...

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None: ...

    def identifier_taken(self, value: str) -> bool:
        """Whether an appid, original_id or email is used anywhere on the platform."""
        ...

    def claim_identifier(self, value: str, kind: str) -> None:
        """Reserve a value platform-wide; a taken one is refused (EMAIL_TAKEN for an email) by the database."""
        ...

    def release_email(self, email: str) -> None:
        """Give back an email reserved by a registration that did not complete."""
        ...

    def bound_to_personal_wechat(self, email: str) -> bool: ...


class AuditLog(Protocol):
    # Used by the registrations area.
    def add(self, event: AuditEvent) -> None: ...


class SessionRepository(Protocol):
    pass


class WechatUserRepository(Protocol):
    pass
