"""Ports of the registrations area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class RegistrationRepository(Protocol):
    pass


class ConfirmationRepository(Protocol):
    pass


class CounterRepository(Protocol):
    pass
