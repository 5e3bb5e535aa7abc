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

    def add(self, credential: Credential, /) -> None:
        self._uow.session.add(credential)

    def credential(self, token_hash: str) -> Credential | None:
        return self._uow.session.get(Credential, token_hash)

    def use(self, credential: Credential, now: datetime) -> bool:
        c = credentials.c
        result = self._uow.session.execute(
            update(credentials).where(c.token_hash == credential.token_hash, c.used_at.is_(None)).values(used_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            credential.used_at = now
            return True
        return False

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        c = credentials.c
        self._uow.session.execute(
            update(credentials).where(c.kind == kind, c.subject == subject, c.used_at.is_(None)).values(used_at=now)
        )

    def get(self, token_hash: str) -> Credential | None:
        return self._uow.session.get(Credential, token_hash)

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.adapters.db import statements as sql

        row = self._uow.conn.execute(sql.TOKEN, {"token_hash": token_hash}).first()
        return None if row is None else str(row.subject)


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
