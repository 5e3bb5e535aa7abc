"""SQL repositories of the registrations area (``services/ports/registrations.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from fastreg.adapters.db import counters
from fastreg.adapters.db.models import confirmations
from fastreg.domain.entities import Confirmation
from fastreg.domain.model import ConfirmationKind, ConfirmationStatus

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlRegistrationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlConfirmationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, confirmation: Confirmation) -> None:
        session = self._uow.session
        session.add(confirmation)
        session.flush()  # rows that refer to it may follow

    def confirmation(self, digest: str) -> Confirmation | None:
        return self._uow.session.get(Confirmation, digest)

    def pending(self, kind: ConfirmationKind, account_appid: str, now: datetime) -> list[Confirmation]:
        c = confirmations.c
        query = select(Confirmation).where(
            c.kind == kind.value,
            c.account_appid == account_appid,
            c.status == ConfirmationStatus.PENDING.value,
            c.expires_at > now,
        )
        return list(self._uow.session.execute(query).scalars())


class SqlCounterRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def links_used(self, oa_id: int, month: str) -> int:
        return counters.used(self._uow.session, oa_id, counters.LINK, month)

    def try_count_link(self, oa_id: int, month: str, limit: int) -> bool:
        return counters.try_increment(self._uow.session, oa_id, counters.LINK, month, limit)
