"""Ports of the registrations area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import Registration


class RegistrationRepository(Protocol):
    def pending_with_email(self, email: str) -> Registration | None:
        """The latest pending registration that gave ``email`` for its MP."""
        ...


class ConfirmationRepository(Protocol):
    pass


class CounterRepository(Protocol):
    pass
