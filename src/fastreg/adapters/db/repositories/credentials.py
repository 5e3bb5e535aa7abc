"""SQL repositories of the credentials area (``services/ports/credentials.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import update

from fastreg.adapters.db.models import Credential, credentials

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlCredentialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # Used by the registrations area (activation links).
    def add(self, credential: Credential) -> None:
        session = self._uow.session
        session.add(credential)
        session.flush()

    def get(self, token_hash: str) -> Credential | None:
        return self._uow.session.get(Credential, token_hash)

    def use(self, credential: Credential, now: datetime) -> bool:
        c = credentials.c
        used = self._uow.session.execute(
            update(credentials)
            .where(c.token_hash == credential.token_hash, c.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if used:
            credential.used_at = now
        return bool(used)

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        c = credentials.c
        self._uow.session.execute(
            update(credentials)
            .where(c.kind == kind, c.subject == subject, c.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
