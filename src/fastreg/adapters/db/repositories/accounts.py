"""SQL repositories of the accounts area (``services/ports/accounts.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from fastreg.adapters.db.models import mini_programs, official_accounts
from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount, Principal
from fastreg.domain.model import AuditKind

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def official_account(self, appid: str) -> OfficialAccount | None:
        query = select(OfficialAccount).where(official_accounts.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def mini_program(self, appid: str) -> MiniProgram | None:
        query = select(MiniProgram).where(mini_programs.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._uow.session.get(MiniProgram, mp_id)

    def principal_by_id(self, principal_id: int) -> Principal | None:
        return self._uow.session.get(Principal, principal_id)


class SqlAuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

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
        self._uow.session.add(event)


class SqlSessionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlWechatUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
