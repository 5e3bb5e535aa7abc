"""SQL repositories of the components area (``services/ports/components.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import (
    authorizations,
    components,
    links,
    mini_programs,
    official_accounts,
    verification_tasks,
)
from fastreg.adapters.db.repositories import columns_of
from fastreg.domain.entities import Authorization, Component, Link, MiniProgram, OfficialAccount, VerificationTask
from fastreg.domain.model import LinkStatus

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork


class SqlComponentRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def component(self, appid: str) -> Component | None:
        query = select(Component).where(components.c.appid == appid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def component_by_id(self, component_id: int) -> Component | None:
        return self._uow.session.get(Component, component_id)

    def add(self, component: Component, /) -> None:
        self._uow.session.add(component)
        self._uow.session.flush()

    def has_components(self) -> bool:
        return bool(self._uow.session.execute(select(exists().select_from(components))).scalar())


class SqlAuthorizationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def authorization(self, component_id: int, authorizer_appid: str) -> Authorization | None:
        query = select(Authorization).where(
            authorizations.c.component_id == component_id, authorizations.c.authorizer_appid == authorizer_appid
        )
        return self._uow.session.execute(query).scalar_one_or_none()

    def of_authorizer(self, authorizer_appid: str) -> list[Authorization]:
        query = (
            select(Authorization)
            .where(authorizations.c.authorizer_appid == authorizer_appid)
            .order_by(authorizations.c.id)
        )
        return list(self._uow.session.execute(query).scalars())

    def page(self, component_id: int, offset: int, count: int) -> tuple[int, list[Authorization]]:
        session = self._uow.session
        mine = authorizations.c.component_id == component_id
        total = session.execute(select(func.count()).select_from(authorizations).where(mine)).scalar_one()
        query = select(Authorization).where(mine).order_by(authorizations.c.id).offset(offset).limit(count)
        return int(total), list(session.execute(query).scalars())

    def add(self, authorization: Authorization) -> None:
        """One prepared insert (a fast-registered MP is authorized on the hot path, which makes no ORM session);
        its id is not read back."""
        self._uow.conn.execute(sql.INSERT_AUTHORIZATION, columns_of(authorization))

    def lock_authorizer(self, appid: str) -> None:
        """A row lock (``FOR UPDATE``, PostgreSQL) on the OA or MP; SQLite's write lock already serializes."""
        session: Session = self._uow.session
        for table in (official_accounts, mini_programs):
            if session.execute(select(table.c.id).where(table.c.appid == appid).with_for_update()).first():
                return


class SqlLinkRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def _pair(self, oa_id: int, mp_id: int, *, lock: bool) -> Link | None:
        query = select(Link).where(links.c.oa_id == oa_id, links.c.mp_id == mp_id)
        return self._uow.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()

    def link(self, oa_id: int, mp_id: int) -> Link | None:
        return self._pair(oa_id, mp_id, lock=False)

    def lock(self, oa_id: int, mp_id: int) -> Link | None:
        """A row lock (``FOR UPDATE``) on the link until commit (PostgreSQL; SQLite's write lock serializes)."""
        return self._pair(oa_id, mp_id, lock=True)

    def link_by_id(self, link_id: int) -> Link | None:
        return self._uow.session.get(Link, link_id)

    def of_oa(self, oa_id: int) -> list[tuple[Link, MiniProgram]]:
        query = (
            select(Link, MiniProgram)
            .join(mini_programs, mini_programs.c.id == links.c.mp_id)
            .where(links.c.oa_id == oa_id)
            .order_by(links.c.id)
        )
        return [(link, mp) for link, mp in self._uow.session.execute(query).all()]

    def add(self, link: Link) -> Link:
        session = self._uow.session
        session.add(link)
        session.flush()  # the id, for the confirmations that refer to it
        return link

    def remove(self, link: Link) -> None:
        session = self._uow.session
        session.delete(link)
        session.flush()  # before any new link of the pair (the unit of work would insert before it deletes)

    def linked_oas(self, mp_id: int) -> list[OfficialAccount]:
        query = (
            select(OfficialAccount)
            .join(links, links.c.oa_id == official_accounts.c.id)
            .where(links.c.mp_id == mp_id, links.c.status == LinkStatus.LINKED.value)
            .order_by(links.c.id)
        )
        return list(self._uow.session.execute(query).scalars())


class SqlVerificationTaskRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def task(self, taskid: str) -> VerificationTask | None:
        query = select(VerificationTask).where(verification_tasks.c.taskid == taskid)
        return self._uow.session.execute(query).scalar_one_or_none()

    def of_mp(self, mp_id: int) -> list[VerificationTask]:
        query = select(VerificationTask).where(verification_tasks.c.mp_id == mp_id).order_by(verification_tasks.c.id)
        return list(self._uow.session.execute(query).scalars())

    def add(self, task: VerificationTask) -> None:
        self._uow.session.add(task)
