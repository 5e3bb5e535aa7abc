"""Ports of the registrations area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class RegistrationRepository(Protocol):
    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        """The OAs with an open registration not updated since ``untouched_since`` (the worker's sweep)."""
        ...


class ConfirmationRepository(Protocol):
    pass


class CounterRepository(Protocol):
    pass
