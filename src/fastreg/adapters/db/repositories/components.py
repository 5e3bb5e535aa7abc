"""SQL repositories of the components area (``services/ports/components.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from fastreg.adapters.db.models import components
from fastreg.domain.entities import Component
from fastreg.domain.errors import DomainError, Err

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlComponentRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def component(self, appid: str) -> Component:
        session = self._uow.session
        component = session.execute(select(Component).where(components.c.appid == appid)).scalar_one_or_none()
        if component is None:
            raise DomainError(Err.INVALID_APPID)
        return component


class SqlAuthorizationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlLinkRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlVerificationTaskRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
