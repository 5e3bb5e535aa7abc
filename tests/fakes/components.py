"""In-memory repositories of the components area (``services/ports/components.py``) for the service tests."""

from __future__ import annotations

from fastreg.domain.entities import (
    Authorization,
    Component,
    Link,
    MiniProgram,
    OfficialAccount,
    VerificationTask,
)
from fastreg.domain.model import LinkStatus
from tests.fakes.store import FakeStore


class FakeComponentRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def component(self, appid: str) -> Component | None:
        return self._store.first(Component, lambda c: c.appid == appid)

    def component_by_id(self, component_id: int) -> Component | None:
        return self._store.first(Component, lambda c: c.id == component_id)

    def add(self, component: Component, /) -> None:
        self._store.add(component)

    def has_components(self) -> bool:
        return bool(self._store.all(Component))


class FakeAuthorizationRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def authorization(self, component_id: int, authorizer_appid: str) -> Authorization | None:
        return self._store.first(
            Authorization, lambda a: a.component_id == component_id and a.authorizer_appid == authorizer_appid
        )

    def of_authorizer(self, authorizer_appid: str) -> list[Authorization]:
        return list(self._store.where(Authorization, lambda a: a.authorizer_appid == authorizer_appid))

    def page(self, component_id: int, offset: int, count: int) -> tuple[int, list[Authorization]]:
        mine = sorted(self._store.where(Authorization, lambda a: a.component_id == component_id), key=lambda a: a.id)
        return len(mine), mine[offset : offset + count]

    def add(self, authorization: Authorization) -> None:
        self._store.add(authorization)

    def lock_authorizer(self, appid: str) -> None:
        """Nothing to hold: the fakes run one unit of work at a time (the lock is proven in tests/db)."""


class FakeLinkRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def link(self, oa_id: int, mp_id: int) -> Link | None:
        return self._store.first(Link, lambda link: link.oa_id == oa_id and link.mp_id == mp_id)

    def lock(self, oa_id: int, mp_id: int) -> Link | None:
        return self.link(oa_id, mp_id)

    def link_by_id(self, link_id: int) -> Link | None:
        return self._store.first(Link, lambda link: link.id == link_id)

    def of_oa(self, oa_id: int) -> list[tuple[Link, MiniProgram]]:
        mps = {mp.id: mp for mp in self._store.all(MiniProgram)}
        mine = sorted(self._store.where(Link, lambda link: link.oa_id == oa_id), key=lambda link: link.id)
        return [(link, mps[link.mp_id]) for link in mine]

    def add(self, link: Link) -> Link:
        if self.link(link.oa_id, link.mp_id) is not None:
            raise AssertionError(f"links: a second link of OA {link.oa_id} and MP {link.mp_id} (unique)")
        return self._store.add(link)

    def remove(self, link: Link) -> None:
        self._store.remove(link)

    def linked_oas(self, mp_id: int) -> list[OfficialAccount]:
        oas = {oa.id: oa for oa in self._store.all(OfficialAccount)}
        linked = self._store.where(Link, lambda link: link.mp_id == mp_id and link.status == LinkStatus.LINKED)
        return [oas[link.oa_id] for link in sorted(linked, key=lambda link: link.id)]


class FakeVerificationTaskRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def task(self, taskid: str) -> VerificationTask | None:
        return self._store.first(VerificationTask, lambda t: t.taskid == taskid)

    def of_mp(self, mp_id: int) -> list[VerificationTask]:
        return list(self._store.where(VerificationTask, lambda t: t.mp_id == mp_id))

    def add(self, task: VerificationTask) -> None:
        self._store.add(task)
