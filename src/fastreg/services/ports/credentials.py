"""Ports of the credentials area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fastreg.domain.entities import Credential


class CredentialRepository(Protocol):
    def add(self, credential: Credential, /) -> None: ...

    def credential(self, token_hash: str) -> Credential | None: ...

    def use(self, credential: Credential, now: datetime) -> bool:
        """Mark a single-use secret used, by a conditional update; False when a concurrent caller used it
        first."""
        ...

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        """Mark every unused secret of a kind for a subject used."""
        ...

    def get(self, token_hash: str) -> Credential | None: ...

    def token_subject(self, token_hash: str) -> str | None:
        """The subject (an appid) of the token with this digest, whatever its state; None when unknown."""
        ...


class FastRegisterGateway(Protocol):
    pass
