"""SQL repositories of the worker area (``services/ports/worker.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastreg.adapters.db.models import SandboxState
from fastreg.domain.entities import PushJob

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlPushQueue:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, job: PushJob) -> None:
        self._uow.session.add(job)


class SqlMailOutbox:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow


class SqlSandboxStateRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def value(self, key: str) -> dict[str, Any] | None:
        state = self._uow.session.get(SandboxState, key)
        return None if state is None else state.value

    def set_value(self, key: str, value: dict[str, Any]) -> None:
        state = self._uow.session.get(SandboxState, key)
        if state is None:
            self._uow.session.add(SandboxState(key=key, value=value))
        else:
            state.value = value
