"""Ports of the credentials area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import Credential


class CredentialRepository(Protocol):
    def credential(self, token_hash: str) -> Credential | None:
        """A stored secret by its digest."""
        ...

    def add(self, credential: Credential) -> None: ...


class FastRegisterGateway(Protocol):
    pass
