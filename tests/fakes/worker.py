"""In-memory repositories of the worker area (``services/ports/worker.py``) for the service tests."""

from __future__ import annotations

from typing import Any

from fastreg.domain.entities import PushJob, SandboxState
from tests.fakes.store import FakeStore


class FakePushQueue:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, job: PushJob) -> None:
        self._store.add(job)


class FakeMailOutbox:
    def __init__(self, store: FakeStore) -> None:
        self._store = store


class FakeSandboxStateRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def value(self, key: str) -> dict[str, Any] | None:
        state = self._store.first(SandboxState, lambda row: row.key == key)
        return None if state is None else state.value

    def set_value(self, key: str, value: dict[str, Any]) -> None:
        state = self._store.first(SandboxState, lambda row: row.key == key)
        if state is None:
            self._store.add(SandboxState(key=key, value=value))
        else:
            state.value = value
