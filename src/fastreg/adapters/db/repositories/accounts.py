"""SQL repositories of the accounts area (``services/ports/accounts.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from fastreg.adapters.db.models import mini_programs, official_accounts
from fastreg.domain.entities import AuditEvent, MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


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

    def find_mini_program(self, appid: str) -> MiniProgram | None:
        query = select(MiniProgram).where(mini_programs.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()


class SqlAuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, event: AuditEvent, /) -> None:
        self._uow.session.add(event)


class SqlSessionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlWechatUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
