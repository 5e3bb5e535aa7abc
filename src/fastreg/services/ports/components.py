"""Ports of the components area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class ComponentRepository(Protocol):
    pass


class AuthorizationRepository(Protocol):
    pass


class LinkRepository(Protocol):
    pass


class VerificationTaskRepository(Protocol):
    pass
