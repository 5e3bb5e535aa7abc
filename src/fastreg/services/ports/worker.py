"""Ports of the worker area: the repository protocols its services use."""

from __future__ import annotations

from typing import Any, Protocol

from fastreg.domain.entities import PushJob


class PushQueue(Protocol):
    def add(self, job: PushJob) -> None:
        """Queue the push in this transaction (delivered once it commits)."""
        ...


class MailOutbox(Protocol):
    pass


class SandboxStateRepository(Protocol):
    def value(self, key: str) -> dict[str, Any] | None: ...

    def set_value(self, key: str, value: dict[str, Any]) -> None: ...
