"""Ports of the accounts area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount


class AccountRepository(Protocol):
    def official_account(self, appid: str) -> OfficialAccount:
        """The OA of ``appid``; ``DomainError(INVALID_APPID)`` when there is none."""
        ...

    def find_official_account(self, appid: str) -> OfficialAccount | None: ...

    def find_mini_program(self, appid: str) -> MiniProgram | None: ...


class AuditLog(Protocol):
    def add(self, event: AuditEvent, /) -> None: ...


class SessionRepository(Protocol):
    pass


class WechatUserRepository(Protocol):
    pass
