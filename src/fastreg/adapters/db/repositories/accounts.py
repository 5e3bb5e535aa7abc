"""SQL repositories of the accounts area (``services/ports/accounts.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from fastreg.adapters.db.models import (
    AuditEvent,
    Identifier,
    MiniProgram,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
)
from fastreg.domain.errors import DomainError, Err

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # Used by the registrations area.
    def official_account_by_id(self, oa_id: int) -> OfficialAccount | None:
        return self._uow.session.get(OfficialAccount, oa_id)

    def principal(self, principal_id: int) -> Principal | None:
        return self._uow.session.get(Principal, principal_id)

    def operator(self, operator_id: int) -> Operator | None:
        return self._uow.session.get(Operator, operator_id)

    def mini_program_by_id(self, mp_id: int) -> MiniProgram | None:
        return self._uow.session.get(MiniProgram, mp_id)

    def identifier_taken(self, value: str) -> bool:
        return self._uow.session.get(Identifier, value) is not None

    def claim_identifier(self, value: str, kind: str) -> None:
        session = self._uow.session
        try:
            with session.begin_nested():
                session.add(Identifier(value=value, kind=kind))
        except IntegrityError:
            raise DomainError(Err.EMAIL_TAKEN if kind == "email" else Err.INVALID_APPID, field=kind) from None

    def release_email(self, email: str) -> None:
        session = self._uow.session
        reserved = session.get(Identifier, email)
        if reserved is not None and reserved.kind == "email":
            session.delete(reserved)
            session.flush()

    def bound_to_personal_wechat(self, email: str) -> bool:
        return self._uow.session.get(PersonalWechatEmail, email) is not None


class SqlAuditLog:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    # Used by the registrations area.
    def add(self, event: AuditEvent) -> None:
        self._uow.session.add(event)


class SqlSessionRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlWechatUserRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
