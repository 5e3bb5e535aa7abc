"""Links on the fake unit of work: ordinary links need both admins and count toward 13 a month (fast-registered
links do not); a waiting request blocks a second one until its confirmation expires; unlinking waits for the OA
admin, and only the link the admin was asked about goes."""

from __future__ import annotations

import pytest

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import AuditEvent, Link, MiniProgram, MonthlyCounter, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind, LinkedVia, LinkStatus
from fastreg.services import links
from tests.fakes import FakeContext

from . import seed

DAY = 24 * 3600


def link_fully(ctx: FakeContext, oa: OfficialAccount, mp: MiniProgram) -> None:
    links.request_link(ctx, oa.appid, mp.appid, notify_users=True, show_profile=True)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_OA_ADMIN, oa.appid), "confirm")
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_MP_ADMIN, mp.appid), "confirm")


def status_of(ctx: FakeContext, oa: OfficialAccount) -> list[str]:
    return [view.status for view in links.list_links(ctx, oa.appid)]


def refused(err: Err, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.err is err


def test_ordinary_link_walks_through_both_admins(ctx: FakeContext) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    request = links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=True)
    assert (request.kind, request.account_appid, request.allowed_wxid) == ("link_oa_admin", oa.appid, oa.admin_wxid)
    assert request.account_name == oa.name and request.payload["mp_appid"] == mp.appid
    assert status_of(ctx, oa) == ["waiting_oa_admin"]
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_OA_ADMIN, oa.appid), "confirm")
    assert status_of(ctx, oa) == ["waiting_mp_admin"]
    asked = seed.pending(ctx, ConfirmationKind.LINK_MP_ADMIN, mp.appid)
    assert asked.allowed_wxid == mp.admin_wxid
    seed.answer(ctx, asked, "confirm")
    view = links.list_links(ctx, oa.appid)[0]
    assert (view.appid, view.status, view.linked_via, view.show_profile) == (mp.appid, "linked", "link", True)
    assert any(e.kind == "linked" and e.mp_appid == mp.appid for e in ctx.store.all(AuditEvent))
    refused(Err.LINK_EXISTS, links.request_link, ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)


def test_unknown_accounts_are_40013(ctx: FakeContext) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    refused(Err.INVALID_APPID, links.request_link, ctx, oa.appid, "wxnotanmp", False, False)
    refused(Err.INVALID_APPID, links.request_link, ctx, "wxnotanoa", mp.appid, False, False)
    refused(Err.INVALID_APPID, links.list_links, ctx, "wxnotanoa")
    assert ctx.store.all(Link) == []


def test_admins_refusals(ctx: FakeContext) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_OA_ADMIN, oa.appid), "cancel")
    assert status_of(ctx, oa) == []  # the OA admin's cancel drops the request
    links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_OA_ADMIN, oa.appid), "confirm")
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_MP_ADMIN, mp.appid), "cancel")
    assert status_of(ctx, oa) == ["refused"]
    # A refused link may be asked for again.
    links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)
    assert status_of(ctx, oa) == ["waiting_oa_admin"]


def test_a_waiting_request_blocks_another_until_it_expires(ctx: FakeContext, fake_clock: FixedClock) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)
    refused(Err.LINK_PENDING, links.request_link, ctx, oa.appid, mp.appid, False, False)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.LINK_OA_ADMIN, oa.appid), "confirm")
    refused(Err.LINK_PENDING, links.request_link, ctx, oa.appid, mp.appid, False, False)  # waiting for the MP admin
    fake_clock.advance(ctx.settings.confirmation_ttl_seconds + 1)
    again = links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=True)
    assert status_of(ctx, oa) == ["waiting_oa_admin"] and len(ctx.store.all(Link)) == 1
    assert again.payload["link_id"] == ctx.store.all(Link)[0].id


def test_fourteenth_ordinary_link_in_a_month_is_refused(ctx: FakeContext, fake_clock: FixedClock) -> None:
    oa = seed.oa(ctx)
    mps = [seed.mp(ctx) for _ in range(14)]
    for mp in mps[:13]:
        link_fully(ctx, oa, mp)
    refused(Err.LINK_LIMIT, links.request_link, ctx, oa.appid, mps[13].appid, False, False)
    assert len(links.list_links(ctx, oa.appid)) == 13
    fake_clock.advance(31 * DAY)  # a new month
    link_fully(ctx, oa, mps[13])
    assert status_of(ctx, oa) == ["linked"] * 14


def test_the_limit_is_counted_when_the_oa_admin_confirms(ctx: FakeContext) -> None:
    """Requests made while under the limit: the OA admin's confirmation that would pass 13 is refused and
    changes nothing."""
    oa = seed.oa(ctx)
    mps = [seed.mp(ctx) for _ in range(14)]
    for mp in mps:
        links.request_link(ctx, oa.appid, mp.appid, notify_users=False, show_profile=False)
    asked = [c for c in ctx.store.all(seed.Confirmation) if c.kind == "link_oa_admin"]
    for confirmation in asked[:13]:
        seed.answer(ctx, confirmation, "confirm")
    with pytest.raises(DomainError) as limit:
        seed.answer(ctx, asked[13], "confirm")
    assert limit.value.err is Err.LINK_LIMIT
    assert status_of(ctx, oa) == ["waiting_mp_admin"] * 13 + ["waiting_oa_admin"]
    assert [c.used for c in ctx.store.all(MonthlyCounter)] == [13]


def test_fast_registered_links_do_not_count_toward_thirteen(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    for _ in range(14):
        fast = seed.mp(ctx, created_by_oa_id=oa.id)
        ctx.store.add(
            Link(
                oa_id=oa.id,
                mp_id=fast.id,
                status=LinkStatus.LINKED.value,
                linked_via=LinkedVia.FAST_REGISTER.value,
                created_at=seed.T0,
            )
        )
    for _ in range(13):
        link_fully(ctx, oa, seed.mp(ctx))
    assert status_of(ctx, oa) == ["linked"] * 27


def test_unlink_at_once_and_show_profile(ctx: FakeContext) -> None:
    oa, mp, stranger = seed.oa(ctx), seed.mp(ctx), seed.oa(ctx)
    refused(Err.INVALID_PARAMETER, links.set_show_profile, ctx, oa.appid, mp.appid, True)
    link_fully(ctx, oa, mp)
    links.set_show_profile(ctx, oa.appid, mp.appid, False)
    assert not links.list_links(ctx, oa.appid)[0].show_profile
    links.set_show_profile(ctx, oa.appid, mp.appid, True)
    assert links.list_links(ctx, oa.appid)[0].show_profile
    refused(Err.INVALID_PARAMETER, links.unlink, ctx, stranger.appid, mp.appid)
    links.unlink(ctx, oa.appid, mp.appid, actor="operator@example.com")
    assert links.list_links(ctx, oa.appid) == []
    assert mp in ctx.store.all(MiniProgram)  # the MP stays
    assert any(e.kind == "unlinked" and e.actor == "operator@example.com" for e in ctx.store.all(AuditEvent))
    refused(Err.INVALID_PARAMETER, links.unlink, ctx, oa.appid, mp.appid)


def test_unlink_request_waits_for_the_oa_admin(ctx: FakeContext) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    refused(Err.INVALID_PARAMETER, links.request_unlink, ctx, oa.appid, mp.appid)  # not linked
    link_fully(ctx, oa, mp)
    request = links.request_unlink(ctx, oa.appid, mp.appid)
    assert (request.kind, request.allowed_wxid) == ("unlink_oa_admin", oa.admin_wxid)
    refused(Err.UNLINK_PENDING, links.request_unlink, ctx, oa.appid, mp.appid)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.UNLINK_OA_ADMIN, oa.appid), "cancel")
    assert status_of(ctx, oa) == ["linked"]  # a cancel keeps the link
    links.request_unlink(ctx, oa.appid, mp.appid)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.UNLINK_OA_ADMIN, oa.appid), "confirm")
    assert status_of(ctx, oa) == []


def test_an_unlink_request_is_stale_after_its_confirmation_expires(ctx: FakeContext, fake_clock: FixedClock) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    link_fully(ctx, oa, mp)
    links.request_unlink(ctx, oa.appid, mp.appid)
    fake_clock.advance(ctx.settings.confirmation_ttl_seconds + 1)
    links.request_unlink(ctx, oa.appid, mp.appid)


def test_unlink_confirmation_spares_a_link_made_again_since(ctx: FakeContext, fake_clock: FixedClock) -> None:
    """The link goes at once meanwhile and a new one of the pair is made under the same id (SQLite reuses the
    highest id after a delete): the earlier request's confirmation does not remove it."""
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    link_fully(ctx, oa, mp)
    links.request_unlink(ctx, oa.appid, mp.appid)
    asked = seed.pending(ctx, ConfirmationKind.UNLINK_OA_ADMIN, oa.appid)
    old_id = ctx.store.all(Link)[0].id
    links.unlink(ctx, oa.appid, mp.appid)
    fake_clock.advance(60)
    again = Link(oa_id=oa.id, mp_id=mp.id, status="linked", linked_via="link", created_at=fake_clock.now())
    again.id = old_id
    ctx.store.add(again)
    seed.answer(ctx, asked, "confirm")
    assert status_of(ctx, oa) == ["linked"]


def test_a_failed_request_changes_nothing(ctx: FakeContext) -> None:
    oa, mp = seed.oa(ctx), seed.mp(ctx)
    link_fully(ctx, oa, mp)
    before = (len(ctx.store.all(seed.Confirmation)), len(ctx.store.all(AuditEvent)))
    refused(Err.LINK_EXISTS, links.request_link, ctx, oa.appid, mp.appid, False, False)
    assert (len(ctx.store.all(seed.Confirmation)), len(ctx.store.all(AuditEvent))) == before
