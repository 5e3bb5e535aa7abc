"""The components area's SQL repositories on SQLite and PostgreSQL: the row lock on a link (and on an account
being authorized) makes a second transaction wait for the first and see what it wrote; a link of the same pair
can be removed and made again in one transaction (unique pair); the links of an OA come with their MPs, oldest
first; the link counter stops at its limit; pending confirmations leave out expired and answered ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import (
    Authorization,
    Component,
    Confirmation,
    Link,
    MiniProgram,
    OfficialAccount,
    Principal,
    VerificationTask,
)
from fastreg.domain.model import ConfirmationKind
from fastreg.platform import Platform

HOLD = 0.4  # seconds the first transaction keeps its lock


def seed(platform: Platform, n_mps: int = 1) -> tuple[OfficialAccount, list[MiniProgram]]:
    with platform.uow() as uow:
        now = uow.clock.now()
        principal = Principal(name="principal", type="enterprise")
        uow.session.add(principal)
        uow.session.flush()
        oa = OfficialAccount(
            appid="wxoa000000000001",
            secret_hash="-",
            original_id="gh_oa0000001",
            name="OA",
            principal_id=principal.id,
            admin_wxid="wxid_oa",
            created_at=now,
        )
        mps = [
            MiniProgram(
                appid=f"wxmp{i:012d}",
                secret_hash="-",
                original_id=f"gh_mp{i:07d}",
                name=f"MP {i}",
                principal_id=principal.id,
                admin_wxid=f"wxid_mp_{i}",
                created_via="open_api",
                status="active",
                created_at=now,
            )
            for i in range(n_mps)
        ]
        uow.session.add_all([oa, *mps])
        uow.commit()
    return oa, mps


def second_waits_and_sees_first(
    first: Callable[[threading.Event], None], second: Callable[[], str]
) -> tuple[float, str]:
    """Run ``first`` (which takes a lock, sets the event, holds the lock HOLD seconds, writes and commits) and,
    once it holds the lock, ``second``; return how long ``second`` took and what it read."""
    holding = threading.Event()
    thread = threading.Thread(target=first, args=(holding,))
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        seen = second()
        return time.monotonic() - started, seen
    finally:
        thread.join(10)


@pytest.fixture
def linked(platform: Platform) -> tuple[OfficialAccount, MiniProgram]:
    oa, (mp,) = seed(platform)
    with platform.uow() as uow:
        uow.links.add(Link(oa_id=oa.id, mp_id=mp.id, status="linked", linked_via="link", created_at=uow.clock.now()))
        uow.commit()
    return oa, mp


def test_a_locked_link_makes_the_next_request_wait_for_the_first(
    platform: Platform, linked: tuple[OfficialAccount, MiniProgram]
) -> None:
    oa, mp = linked

    def first(holding: threading.Event) -> None:
        with platform.uow() as uow:
            link = uow.links.lock(oa.id, mp.id)
            assert link is not None
            holding.set()
            time.sleep(HOLD)
            link.status = "refused"
            uow.commit()

    def second() -> str:
        with platform.uow() as uow:
            link = uow.links.lock(oa.id, mp.id)
            assert link is not None
            return link.status

    took, seen = second_waits_and_sees_first(first, second)
    assert seen == "refused"
    assert took >= HOLD / 2


def test_holding_an_authorizer_makes_a_second_authorization_wait(platform: Platform) -> None:
    oa, _ = seed(platform, 0)
    with platform.uow() as uow:
        now = uow.clock.now()
        component = Component(
            appid="wxcp000000000001",
            secret_hash="-",
            name="C",
            redirect_domain="tp.example.com",
            permission_sets=[1],
            token="t",
            encoding_aes_key="k" * 43,
            created_at=now,
        )
        uow.session.add(component)
        uow.session.flush()
        uow.authorizations.add(
            Authorization(
                component_id=component.id,
                authorizer_appid=oa.appid,
                refresh_token_seed="s",
                refresh_token_hash="h",
                func_info=[1, 65],
                created_at=now,
                authorized_at=now,
            )
        )
        uow.commit()
        component_id = component.id

    def first(holding: threading.Event) -> None:
        with platform.uow() as uow:
            uow.authorizations.lock_authorizer(oa.appid)
            holding.set()
            time.sleep(HOLD)
            authorization = uow.authorizations.authorization(component_id, oa.appid)
            assert authorization is not None
            authorization.func_info = [1]
            uow.commit()

    def second() -> str:
        with platform.uow() as uow:
            uow.authorizations.lock_authorizer(oa.appid)
            authorization = uow.authorizations.authorization(component_id, oa.appid)
            assert authorization is not None
            return repr(authorization.func_info)

    took, seen = second_waits_and_sees_first(first, second)
    assert seen == "[1]"
    assert took >= HOLD / 2
    with platform.uow(readonly=True) as uow:
        total, page = uow.authorizations.page(component_id, 0, 10)
        assert (total, [a.authorizer_appid for a in page]) == (1, [oa.appid])
        assert uow.authorizations.page(component_id, 1, 10) == (1, [])
        assert [a.component_id for a in uow.authorizations.of_authorizer(oa.appid)] == [component_id]


def test_a_link_is_removed_and_made_again_in_one_transaction(
    platform: Platform, linked: tuple[OfficialAccount, MiniProgram]
) -> None:
    oa, mp = linked
    with platform.uow() as uow:
        old = uow.links.lock(oa.id, mp.id)
        assert old is not None
        uow.links.remove(old)
        again = uow.links.add(
            Link(oa_id=oa.id, mp_id=mp.id, status="waiting_oa_admin", linked_via="link", created_at=uow.clock.now())
        )
        assert isinstance(again.id, int)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert [(link.status, m.appid) for link, m in uow.links.of_oa(oa.id)] == [("waiting_oa_admin", mp.appid)]
        assert uow.links.link_by_id(again.id) is not None
        assert uow.links.link(oa.id, mp.id + 1000) is None


def test_links_of_an_oa_come_with_their_mps_oldest_first(platform: Platform) -> None:
    oa, mps = seed(platform, 3)
    with platform.uow() as uow:
        for mp in reversed(mps):
            uow.links.add(
                Link(oa_id=oa.id, mp_id=mp.id, status="linked", linked_via="link", created_at=uow.clock.now())
            )
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert [mp.appid for _, mp in uow.links.of_oa(oa.id)] == [mp.appid for mp in reversed(mps)]


def test_the_link_counter_stops_at_its_limit(platform: Platform) -> None:
    oa, _ = seed(platform, 0)
    with platform.uow() as uow:
        counted = [uow.counters.try_count_link(oa.id, "2026-03", 3) for _ in range(4)]
        assert counted == [True, True, True, False]
        assert uow.counters.try_count_link(oa.id, "2026-04", 3)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert (uow.counters.links_used(oa.id, "2026-03"), uow.counters.links_used(oa.id, "2026-05")) == (3, 0)


def test_pending_confirmations_leave_out_expired_answered_and_other_ones(platform: Platform, clock: FixedClock) -> None:
    now = clock.now()

    def confirmation(
        digest: str, kind: ConfirmationKind, appid: str, *, status: str = "pending", ttl: int = 60
    ) -> None:
        with platform.uow() as uow:
            uow.confirmations.add(
                Confirmation(
                    id=digest,
                    kind=kind.value,
                    account_appid=appid,
                    allowed_wxid="wxid",
                    status=status,
                    payload={"link_id": 1},
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
            uow.commit()

    confirmation("a", ConfirmationKind.LINK_OA_ADMIN, "wxoa1")
    confirmation("b", ConfirmationKind.LINK_OA_ADMIN, "wxoa1", ttl=-1)
    confirmation("c", ConfirmationKind.LINK_OA_ADMIN, "wxoa1", status="confirmed")
    confirmation("d", ConfirmationKind.UNLINK_OA_ADMIN, "wxoa1")
    confirmation("e", ConfirmationKind.LINK_OA_ADMIN, "wxoa2")
    with platform.uow(readonly=True) as uow:
        assert [c.id for c in uow.confirmations.pending(ConfirmationKind.LINK_OA_ADMIN, "wxoa1", now)] == ["a"]
        later = now + timedelta(seconds=61)
        assert uow.confirmations.pending(ConfirmationKind.LINK_OA_ADMIN, "wxoa1", later) == []
        found = uow.confirmations.get("d")
        assert found is not None and found.kind == "unlink_oa_admin"


def test_verification_tasks_by_taskid_and_mp(platform: Platform) -> None:
    _, (mp, other) = seed(platform, 2)
    with platform.uow() as uow:
        now = uow.clock.now()
        for taskid in ("t1", "t2"):
            uow.verification_tasks.add(
                VerificationTask(
                    taskid=taskid,
                    mp_id=mp.id,
                    confirmation_id="c",
                    task_status=0,
                    apply_status=0,
                    orderid=123456789,
                    auth_data={"k": "v"},
                    created_at=now,
                    expires_at=now,
                    updated_at=now,
                )
            )
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert [t.taskid for t in uow.verification_tasks.of_mp(mp.id)] == ["t1", "t2"]
        assert uow.verification_tasks.of_mp(other.id) == []
        task = uow.verification_tasks.task("t2")
        assert task is not None and task.auth_data == {"k": "v"}
        assert uow.verification_tasks.task("t3") is None
