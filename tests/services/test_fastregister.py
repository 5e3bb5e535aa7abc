from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from fastreg.adapters.db.models import Link, MiniProgram
from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services.fastregister import fastregister

from .helpers import issue_ticket, setup


def count(platform: Platform, model: type) -> int:
    with platform.uow(readonly=True) as uow:
        return int(uow.session.execute(select(func.count()).select_from(model)).scalar_one())


def test_ticket_registers_certified_linked_mp(platform: Platform) -> None:
    s = setup(platform)
    ticket = issue_ticket(platform, s)
    result = fastregister(platform, s.oa.appid, s.component_id, ticket)
    assert result.appid.startswith("wx") and result.is_wx_verify_succ and result.is_link_succ
    with platform.uow(readonly=True) as uow:
        mp = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == result.appid)).scalar_one()
        link = uow.session.execute(select(Link).where(Link.mp_id == mp.id)).scalar_one()
    assert mp.certified and mp.created_via == "open_api"
    assert (link.linked_via, link.show_profile, link.notify_users) == ("fast_register", False, False)


def test_ticket_is_single_use(platform: Platform) -> None:
    s = setup(platform)
    ticket = issue_ticket(platform, s)
    fastregister(platform, s.oa.appid, s.component_id, ticket)
    with pytest.raises(DomainError) as refused:
        fastregister(platform, s.oa.appid, s.component_id, ticket)
    assert refused.value.err is Err.SCAN_INVALID
    assert count(platform, MiniProgram) == 1


def test_concurrent_use_of_one_ticket_registers_once(platform: Platform) -> None:
    s = setup(platform)
    ticket = issue_ticket(platform, s)

    def attempt(_: int) -> str:
        try:
            return fastregister(platform, s.oa.appid, s.component_id, ticket).appid
        except DomainError as error:
            return str(error.errcode)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sum(o.startswith("wx") for o in outcomes) == 1
    assert outcomes.count("61058") == 7
    assert count(platform, MiniProgram) == 1


def test_fifty_concurrent_completions_grant_exactly_the_quota(platform: Platform) -> None:
    s = setup(platform)
    tickets = [issue_ticket(platform, s) for _ in range(50)]

    def attempt(ticket: str) -> str:
        try:
            return fastregister(platform, s.oa.appid, s.component_id, ticket).appid
        except DomainError as error:
            return str(error.errcode)

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(attempt, tickets))
    assert sum(o.startswith("wx") for o in outcomes) == 5
    assert outcomes.count("61055") == 45
    assert count(platform, MiniProgram) == 5


def test_redirect_uri_is_checked_again_at_registration(platform: Platform) -> None:
    from fastreg.adapters.db.models import Component

    s = setup(platform)
    ticket = issue_ticket(platform, s)
    with platform.uow() as uow:
        component = uow.session.get(Component, s.component_id)
        assert component is not None
        component.redirect_domain = "elsewhere.example.com"
        uow.commit()
    with pytest.raises(DomainError) as refused:
        fastregister(platform, s.oa.appid, s.component_id, ticket)
    assert refused.value.err is Err.INVALID_REDIRECT
    assert count(platform, MiniProgram) == 0
