"""SQL repositories of the credentials area (``services/ports/credentials.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.repositories import columns_of
from fastreg.domain.entities import Credential

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlCredentialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def credential(self, token_hash: str) -> Credential | None:
        return self._uow.session.get(Credential, token_hash)

    def add(self, credential: Credential) -> None:
        """One prepared insert (no ORM session on the hot path); rows the ORM session holds are written first,
        as the credential may refer to them."""
        session = self._uow._session  # only if this unit of work has made one
        if session is not None and session.new:
            session.flush()
        self._uow.conn.execute(sql.INSERT_CREDENTIAL, columns_of(credential))


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
