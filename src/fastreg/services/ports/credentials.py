"""Ports of the credentials area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class CredentialRepository(Protocol):
    def token_subject(self, token_hash: str) -> str | None:
        """The subject (an appid) of the token with this digest, whatever its state; None when unknown."""
        ...


class FastRegisterGateway(Protocol):
    pass
