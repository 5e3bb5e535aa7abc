"""SQL repositories of the components area (``services/ports/components.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlComponentRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlAuthorizationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlLinkRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlVerificationTaskRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
