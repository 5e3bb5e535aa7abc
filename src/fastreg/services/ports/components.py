"""Ports of the components area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import Component


class ComponentRepository(Protocol):
    def component(self, appid: str) -> Component:
        """The component of ``appid``; ``DomainError(INVALID_APPID)`` when there is none."""
        ...


class AuthorizationRepository(Protocol):
    pass


class LinkRepository(Protocol):
    pass


class VerificationTaskRepository(Protocol):
    pass
