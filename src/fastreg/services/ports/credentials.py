"""Ports of the credentials area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class CredentialRepository(Protocol):
    pass


class FastRegisterGateway(Protocol):
    pass
