"""The console's read models (``services/console_views.py``) on the fake unit of work."""

from __future__ import annotations

from datetime import timedelta

from fastreg.domain.entities import AuditEvent, Link, MiniProgram, OfficialAccount, Registration
from fastreg.domain.model import LinkedVia, LinkStatus, RegistrationStatus
from fastreg.domain.rules import calendar_month
from fastreg.services import console_views
from fastreg.services.ports.registrations import REGISTRATION
from tests.fakes import FakeContext

from . import seed


def _event(ctx: FakeContext, oa_appid: str, n: int, *, minutes: int | None = None) -> None:
    at = seed.T0 + timedelta(minutes=n if minutes is None else minutes)
    ctx.store.add(AuditEvent(at=at, kind="registration_started", actor="op", oa_appid=oa_appid, detail={"n": n}))


def _numbers(page: console_views.AuditPage) -> list[int]:
    return [row.detail["n"] for row in page.rows if row.detail is not None]


def _link(ctx: FakeContext, oa: OfficialAccount, mp: MiniProgram, status: LinkStatus, minutes: int) -> Link:
    at = seed.T0 + timedelta(minutes=minutes)
    linked_at = at if status == LinkStatus.LINKED else None
    return ctx.store.add(
        Link(
            oa_id=oa.id, mp_id=mp.id, status=status.value, linked_via=LinkedVia.LINK, created_at=at, linked_at=linked_at
        )
    )


def _completed(ctx: FakeContext, oa: OfficialAccount, mp: MiniProgram | None) -> Registration:
    return ctx.store.add(
        Registration(
            oa_id=oa.id,
            channel="console",
            status=RegistrationStatus.COMPLETED.value if mp else RegistrationStatus.DRAFT.value,
            mp_id=mp.id if mp else None,
            mp_name="Draft name",
            email="draft@example.com",
            admin_wxid="wxid_draft_admin",
            created_at=seed.T0,
            updated_at=seed.T0,
        )
    )


def test_audit_history_pages_the_oas_own_events_newest_first(ctx: FakeContext) -> None:
    mine, other = seed.oa(ctx), seed.oa(ctx)
    for n in range(45):
        _event(ctx, mine.appid, n)
    for n in range(100, 103):
        _event(ctx, other.appid, n)

    first = console_views.audit_history(ctx, mine.appid, 1, per_page=20)
    last = console_views.audit_history(ctx, mine.appid, 3, per_page=20)

    assert (first.page, first.pages) == (1, 3)
    assert _numbers(first) == list(range(44, 24, -1))
    assert _numbers(console_views.audit_history(ctx, mine.appid, 2, per_page=20)) == list(range(24, 4, -1))
    assert (last.page, _numbers(last)) == (3, [4, 3, 2, 1, 0])


def test_audit_history_out_of_range_pages_show_the_nearest_one(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    for n in range(21):
        _event(ctx, oa.appid, n)

    assert console_views.audit_history(ctx, oa.appid, 99, per_page=20).page == 2
    assert _numbers(console_views.audit_history(ctx, oa.appid, 99, per_page=20)) == [0]
    assert console_views.audit_history(ctx, oa.appid, 0, per_page=20).page == 1
    empty = console_views.audit_history(ctx, seed.oa(ctx).appid, 5)
    assert (empty.rows, empty.page, empty.pages) == ([], 1, 1)


def test_audit_history_orders_events_of_one_instant_by_the_last_recorded(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    for n in range(3):
        _event(ctx, oa.appid, n, minutes=0)

    assert _numbers(console_views.audit_history(ctx, oa.appid)) == [2, 1, 0]


def test_registration_outcome_of_another_oas_registration_is_not_visible(ctx: FakeContext) -> None:
    owner, other = seed.oa(ctx), seed.oa(ctx)
    registration = _completed(ctx, owner, seed.mp(ctx))

    assert console_views.registration_outcome(ctx, other.id, registration.id) is None
    assert console_views.registration_outcome(ctx, owner.id, registration.id + 1000) is None
    assert console_views.registration_outcome(ctx, owner.id, registration.id) is not None


def test_registration_outcome_shows_the_created_mp_and_its_link(ctx: FakeContext) -> None:
    oa = seed.oa(ctx, name="The OA")
    mp = seed.mp(ctx, name="New MP", email="mp@example.com", certified=True)
    registration = _completed(ctx, oa, mp)

    unlinked = console_views.registration_outcome(ctx, oa.id, registration.id)
    _link(ctx, oa, mp, LinkStatus.LINKED, 1)
    linked = console_views.registration_outcome(ctx, oa.id, registration.id)

    assert unlinked is not None and linked is not None
    assert (unlinked.linked, linked.linked) == (False, True)
    assert (linked.status, linked.mp_appid, linked.mp_name, linked.mp_email) == (
        "completed",
        mp.appid,
        "New MP",
        mp.email,
    )
    assert (linked.certified, linked.oa_name, linked.admin_wxid) == (True, "The OA", mp.admin_wxid)


def test_registration_outcome_without_an_mp_shows_what_the_registration_asked(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    registration = _completed(ctx, oa, None)

    outcome = console_views.registration_outcome(ctx, oa.id, registration.id)

    assert outcome is not None
    assert (outcome.mp_appid, outcome.mp_name, outcome.mp_email) == (None, "Draft name", "draft@example.com")
    assert (outcome.admin_wxid, outcome.linked, outcome.certified) == ("wxid_draft_admin", False, False)


def test_linked_mps_lists_every_link_of_the_oa_newest_first(ctx: FakeContext) -> None:
    oa, other = seed.oa(ctx), seed.oa(ctx)
    old, new, elsewhere = seed.mp(ctx, name="old"), seed.mp(ctx, name="new"), seed.mp(ctx, name="elsewhere")
    _link(ctx, oa, new, LinkStatus.WAITING_MP_ADMIN, 10)
    _link(ctx, oa, old, LinkStatus.LINKED, 1)
    _link(ctx, other, elsewhere, LinkStatus.LINKED, 5)

    rows = console_views.linked_mps(ctx, oa.id)

    assert [(row.appid, row.status) for row in rows] == [(new.appid, "waiting_mp_admin"), (old.appid, "linked")]


def test_mp_summary_names_only_the_oas_it_is_linked_to(ctx: FakeContext) -> None:
    mp = seed.mp(ctx, name="The MP")
    linked, waiting = seed.oa(ctx, name="Linked OA"), seed.oa(ctx, name="Waiting OA")
    _link(ctx, linked, mp, LinkStatus.LINKED, 1)
    _link(ctx, waiting, mp, LinkStatus.WAITING_MP_ADMIN, 2)

    summary = console_views.mp_summary(ctx, mp.id)

    assert summary is not None
    assert summary.linked_oas == [(linked.appid, "Linked OA")]
    assert (summary.appid, summary.name, summary.principal_type) == (mp.appid, "The MP", "enterprise")
    assert console_views.mp_summary(ctx, mp.id + 1000) is None


def test_oa_summary_counts_this_months_registrations(ctx: FakeContext) -> None:
    oa = seed.oa(ctx, name="The OA")
    with ctx.uow() as uow:
        month = calendar_month(uow.clock.now(), ctx.settings.timezone)
        assert uow.counters.try_increment(oa.id, REGISTRATION, month, ctx.limits.monthly)
        uow.commit()

    summary = console_views.oa_summary(ctx, oa.id)

    assert (summary.appid, summary.name, summary.principal_type) == (oa.appid, "The OA", "enterprise")
    assert (summary.quota.used, summary.quota.limit) == (1, ctx.limits.monthly)


def test_confirmation_is_none_without_an_id_or_for_an_unknown_one(ctx: FakeContext) -> None:
    assert console_views.confirmation(ctx, None) is None
    assert console_views.confirmation(ctx, "no-such-confirmation") is None
    assert console_views.confirmation(ctx, "no-such-digest", stored=True) is None
