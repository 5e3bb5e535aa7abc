"""Ports of the worker area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import PushJob


class PushQueue(Protocol):
    def add(self, job: PushJob) -> None:
        """Queue the push in this transaction (delivered once it commits)."""
        ...


class MailOutbox(Protocol):
    pass


class SandboxStateRepository(Protocol):
    pass
