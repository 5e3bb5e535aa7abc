"""Ports of the worker area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class PushQueue(Protocol):
    pass


class MailOutbox(Protocol):
    pass


class SandboxStateRepository(Protocol):
    pass
