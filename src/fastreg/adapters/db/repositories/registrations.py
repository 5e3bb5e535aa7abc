"""SQL repositories of the registrations area (``services/ports/registrations.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlRegistrationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        from sqlalchemy import select

        from fastreg.adapters.db.models import registrations as r
        from fastreg.domain.model import OPEN_STATUSES

        query = (
            select(r.c.oa_id)
            .where(r.c.status.in_([s.value for s in OPEN_STATUSES]), r.c.updated_at <= untouched_since)
            .distinct()
        )
        return [int(oa_id) for (oa_id,) in self._uow.session.execute(query)]


class SqlConfirmationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlCounterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
