"""SQL repositories of the credentials area (``services/ports/credentials.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlCredentialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
