"""In-memory repositories of the worker area (``services/ports/worker.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import PushJob
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
