"""Ports of the components area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol

from fastreg.domain.entities import Authorization, Component, Link, MiniProgram, OfficialAccount, VerificationTask


class ComponentRepository(Protocol):
    def component(self, appid: str) -> Component | None: ...

    def component_by_id(self, component_id: int) -> Component | None: ...

    def add(self, component: Component, /) -> None:
        """Store a new component; it has its ``id`` on return."""
        ...

    def has_components(self) -> bool: ...


class AuthorizationRepository(Protocol):
    def authorization(self, component_id: int, authorizer_appid: str) -> Authorization | None: ...

    def of_authorizer(self, authorizer_appid: str) -> list[Authorization]:
        """Every component's authorization by the account."""
        ...

    def page(self, component_id: int, offset: int, count: int) -> tuple[int, list[Authorization]]:
        """The component's authorizations oldest first, ``count`` from ``offset``, and how many it has."""
        ...

    def add(self, authorization: Authorization) -> None:
        """Store a new authorization (its id is not needed afterwards)."""
        ...

    def lock_authorizer(self, appid: str) -> None:
        """Hold the account (OA or MP) until the transaction ends: two components authorized by it at the same
        moment take turns, and the second sees (and takes the fast-registration set from) the first."""
        ...


class LinkRepository(Protocol):
    def link(self, oa_id: int, mp_id: int) -> Link | None: ...

    def lock(self, oa_id: int, mp_id: int) -> Link | None:
        """:meth:`link`, held until the transaction ends (two requests about one link run one after the
        other)."""
        ...

    def link_by_id(self, link_id: int) -> Link | None: ...

    def of_oa(self, oa_id: int) -> list[tuple[Link, MiniProgram]]:
        """The OA's links with their MPs, oldest first."""
        ...

    def add(self, link: Link) -> Link:
        """Store a new link (its id is set on return)."""
        ...

    def remove(self, link: Link) -> None:
        """Delete the link at once (a new link of the same pair may follow in the transaction)."""
        ...

    def linked_oas(self, mp_id: int) -> list[OfficialAccount]:
        """The OAs the MP is linked to (status linked), the oldest link first."""
        ...


class VerificationTaskRepository(Protocol):
    def task(self, taskid: str) -> VerificationTask | None: ...

    def of_mp(self, mp_id: int) -> list[VerificationTask]: ...

    def add(self, task: VerificationTask) -> None: ...
