"""SQL repositories of the accounts area (``services/ports/accounts.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlAuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlSessionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlWechatUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
