"""Ports of the registrations area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fastreg.domain.entities import Confirmation
from fastreg.domain.model import ConfirmationKind


class RegistrationRepository(Protocol):
    pass


class ConfirmationRepository(Protocol):
    def add(self, confirmation: Confirmation) -> None: ...

    def confirmation(self, digest: str) -> Confirmation | None:
        """By its stored id (the digest of the id in its URL)."""
        ...

    def pending(self, kind: ConfirmationKind, account_appid: str, now: datetime) -> list[Confirmation]:
        """The account's confirmations of this kind still waiting for an answer (not expired at ``now``)."""
        ...


class CounterRepository(Protocol):
    def links_used(self, oa_id: int, month: str) -> int:
        """The OA's ordinary links counted in the month."""
        ...

    def try_count_link(self, oa_id: int, month: str, limit: int) -> bool:
        """Count one more link for the month if that stays within ``limit`` (atomic); False when reached."""
        ...
