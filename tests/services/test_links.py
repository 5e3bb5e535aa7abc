"""Links: fast-registered MPs are exempt from the 13-a-month limit; ordinary links need both admins."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import MiniProgram
from fastreg.domain.clock import FixedClock
from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services import confirmations, links
from fastreg.services.fastregister import fastregister

from .helpers import Setup, issue_ticket, make_oa, setup


def fast_mp(platform: Platform, s: Setup) -> str:
    return fastregister(platform, s.oa.appid, s.component_id, issue_ticket(platform, s)).appid


def link_fully(platform: Platform, oa_appid: str, oa_admin: str, mp_appid: str) -> None:
    request = links.request_link(platform, oa_appid, mp_appid, notify_users=True, show_profile=True)
    confirmations.answer(platform, request.id, oa_admin, "confirm")
    mp_admin = mp_admin_of(platform, mp_appid)
    pending = [c for c in confirmations.list_for(platform, mp_admin) if c.kind == "link_mp_admin"]
    confirmations.answer(platform, pending[-1].id, mp_admin, "confirm")


def mp_admin_of(platform: Platform, appid: str) -> str:
    with platform.uow(readonly=True) as uow:
        return str(uow.session.execute(select(MiniProgram.admin_wxid).where(MiniProgram.appid == appid)).scalar_one())


def test_fast_registered_mps_do_not_count_toward_thirteen(platform: Platform) -> None:
    platform.settings.monthly_quota = 20
    s = setup(platform)
    appids = [fast_mp(platform, s) for _ in range(14)]
    listed = links.list_links(platform, s.oa.appid)
    assert [v.appid for v in listed] == appids
    assert all(v.status == "linked" and v.linked_via == "fast_register" and not v.show_profile for v in listed)
    # All 13 ordinary links of the month are still available.
    other = setup(platform)
    donors = [fast_mp(platform, other) for _ in range(5)]
    link_fully(platform, s.oa.appid, s.oa.admin_wxid, donors[0])
    assert links.list_links(platform, s.oa.appid)[-1].status == "linked"


def test_ordinary_link_walks_through_both_admins(platform: Platform) -> None:
    s, other = setup(platform), setup(platform)
    mp = fast_mp(platform, other)
    request = links.request_link(platform, s.oa.appid, mp, notify_users=False, show_profile=True)
    assert links.list_links(platform, s.oa.appid)[0].status == "waiting_oa_admin"
    with pytest.raises(DomainError) as wrong:
        confirmations.answer(platform, request.id, "not_the_admin", "confirm")
    assert wrong.value.err is Err.NOT_ALLOWED
    confirmations.answer(platform, request.id, s.oa.admin_wxid, "confirm")
    assert links.list_links(platform, s.oa.appid)[0].status == "waiting_mp_admin"
    mp_admin = mp_admin_of(platform, mp)
    pending = [c for c in confirmations.list_for(platform, mp_admin) if c.kind == "link_mp_admin"]
    confirmations.answer(platform, pending[0].id, mp_admin, "confirm")
    view = links.list_links(platform, s.oa.appid)[0]
    assert (view.status, view.linked_via, view.show_profile) == ("linked", "link", True)
    with pytest.raises(DomainError) as again:
        links.request_link(platform, s.oa.appid, mp, notify_users=False, show_profile=False)
    assert again.value.err is Err.LINK_EXISTS


def test_fourteenth_ordinary_link_in_a_month_is_refused(platform: Platform, clock: FixedClock) -> None:
    platform.settings.monthly_quota = 20
    s, donor = setup(platform), setup(platform)
    mps = [fast_mp(platform, donor) for _ in range(14)]
    for mp in mps[:13]:
        link_fully(platform, s.oa.appid, s.oa.admin_wxid, mp)
    with pytest.raises(DomainError) as refused:
        links.request_link(platform, s.oa.appid, mps[13], notify_users=False, show_profile=False)
    assert refused.value.err is Err.LINK_LIMIT
    assert len(links.list_links(platform, s.oa.appid)) == 13
    clock.advance(31 * 24 * 3600)  # a new month
    link_fully(platform, s.oa.appid, s.oa.admin_wxid, mps[13])
    assert len(links.list_links(platform, s.oa.appid)) == 14


def test_unlink_keeps_the_mp_and_show_profile_toggles(platform: Platform) -> None:
    s = setup(platform)
    mp = fast_mp(platform, s)
    links.set_show_profile(platform, s.oa.appid, mp, True)
    assert links.list_links(platform, s.oa.appid)[0].show_profile
    links.unlink(platform, s.oa.appid, mp)
    assert links.list_links(platform, s.oa.appid) == []
    assert mp_admin_of(platform, mp) == s.oa.admin_wxid  # the MP still exists
    with pytest.raises(DomainError) as missing:
        links.unlink(platform, s.oa.appid, mp)
    assert missing.value.err is Err.INVALID_PARAMETER


def test_stale_pending_registration_stops_blocking_the_api(platform: Platform, clock: FixedClock) -> None:
    from tests.db.test_repositories_registrations import walk_to_pending

    platform.mailer = None
    s = setup(platform)
    walk_to_pending(platform, s.oa, "stale@example.com")
    with pytest.raises(DomainError) as blocked:
        fast_mp(platform, s)
    assert blocked.value.err is Err.PENDING_EXISTS
    clock.advance(7 * 24 * 3600)
    assert fast_mp(platform, s).startswith("wx")


def test_other_oa_cannot_unlink(platform: Platform) -> None:
    s = setup(platform)
    mp = fast_mp(platform, s)
    stranger = make_oa(platform)
    with pytest.raises(DomainError) as refused:
        links.unlink(platform, stranger.appid, mp)
    assert refused.value.err is Err.INVALID_PARAMETER
    assert len(links.list_links(platform, s.oa.appid)) == 1
