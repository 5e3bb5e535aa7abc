"""SQL repositories of the registrations area (``services/ports/registrations.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlRegistrationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlConfirmationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlCounterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
