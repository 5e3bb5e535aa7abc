"""The SQL side of the console's read models on SQLite and PostgreSQL: an OA's audit events are counted and paged
newest first (the last recorded first within one instant), and an MP's linked OAs leave out links still waiting."""

from __future__ import annotations

from datetime import timedelta

from fastreg.domain.entities import Link
from fastreg.domain.model import AuditKind, LinkStatus
from fastreg.platform import Platform
from fastreg.services import audit, console_views
from fastreg.services.accounts import create_official_account
from tests.db.test_repositories_components import seed


def test_an_oas_events_are_counted_and_paged_newest_first(platform: Platform) -> None:
    with platform.uow() as uow:
        now = uow.clock.now()
        for n in range(5):
            audit.record(
                uow.audit, now + timedelta(minutes=n), AuditKind.REGISTRATION_STARTED, "op", oa_appid="wxa", n=n
            )
        for n in (5, 6):  # one instant: the last recorded comes first
            audit.record(uow.audit, now + timedelta(hours=1), AuditKind.REGISTRATION_STARTED, "op", oa_appid="wxa", n=n)
        audit.record(uow.audit, now + timedelta(days=1), AuditKind.REGISTRATION_STARTED, "op", oa_appid="wxb", n=99)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert (uow.audit.count_oa_events("wxa"), uow.audit.count_oa_events("wxnone")) == (7, 0)
        pages = [uow.audit.oa_events("wxa", offset, 3) for offset in (0, 3, 6)]
        assert [[event.detail for event in page] for page in pages] == [
            [{"n": 6}, {"n": 5}, {"n": 4}],
            [{"n": 3}, {"n": 2}, {"n": 1}],
            [{"n": 0}],
        ]

    history = console_views.audit_history(platform, "wxa", 9, per_page=3)
    assert (history.page, history.pages, [row.detail for row in history.rows]) == (3, 3, [{"n": 0}])


def test_an_mps_linked_oas_leave_out_the_links_still_waiting(platform: Platform) -> None:
    oa, (mp,) = seed(platform)
    waiting = create_official_account(
        platform, name="另一个公众号", principal_name="某公司", principal_type="enterprise"
    )
    with platform.uow() as uow:
        now = uow.clock.now()
        other = uow.accounts.official_account(waiting.appid)
        uow.links.add(Link(oa_id=oa.id, mp_id=mp.id, status=LinkStatus.LINKED, linked_via="link", created_at=now))
        uow.links.add(
            Link(oa_id=other.id, mp_id=mp.id, status=LinkStatus.WAITING_MP_ADMIN, linked_via="link", created_at=now)
        )
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert [found.appid for found in uow.links.linked_oas(mp.id)] == [oa.appid]
        assert uow.links.linked_oas(mp.id + 1000) == []

    summary = console_views.mp_summary(platform, mp.id)
    assert summary is not None and summary.linked_oas == [(oa.appid, "OA")]
