"""SQL repositories of the registrations area (``services/ports/registrations.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from fastreg.adapters.db.models import Registration, registrations
from fastreg.domain.model import RegistrationStatus

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlRegistrationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def pending_with_email(self, email: str) -> Registration | None:
        c = registrations.c
        query = (
            select(Registration)
            .where(c.email == email, c.status == RegistrationStatus.PENDING.value)
            .order_by(c.id.desc())
            .limit(1)
        )
        return self._uow.session.execute(query).scalar_one_or_none()


class SqlConfirmationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlCounterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
