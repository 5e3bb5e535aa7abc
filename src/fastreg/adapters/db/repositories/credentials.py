"""SQL repositories of the credentials area (``services/ports/credentials.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlCredentialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.adapters.db import statements as sql

        row = self._uow.conn.execute(sql.TOKEN, {"token_hash": token_hash}).first()
        return None if row is None else str(row.subject)


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
