"""Ports of the accounts area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from fastreg.domain.entities import MiniProgram, OfficialAccount, Principal
from fastreg.domain.model import AuditKind


class AccountRepository(Protocol):
    def official_account(self, appid: str) -> OfficialAccount | None: ...

    def mini_program(self, appid: str) -> MiniProgram | None: ...

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None: ...

    def principal_by_id(self, principal_id: int) -> Principal | None: ...


class AuditLog(Protocol):
    def record(
        self,
        at: datetime,
        kind: AuditKind,
        actor: str,
        *,
        oa_appid: str | None = None,
        mp_appid: str | None = None,
        **detail: Any,
    ) -> None: ...


class SessionRepository(Protocol):
    pass


class WechatUserRepository(Protocol):
    pass
