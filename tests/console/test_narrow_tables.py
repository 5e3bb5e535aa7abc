"""The 小程序管理 page at phone width (375 px): its tables stack as cards (each cell a readable line with its
column's name) and 操作记录 is paged, 20 events a page, so the page's height stays bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from fastreg.adapters.db.models import AuditEvent
from fastreg.domain.model import AuditKind
from fastreg.platform import Platform
from fastreg.services import audit
from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import OA, complete_through_services, login, make_oa, shot

pytestmark = pytest.mark.browser

EXTRA_EVENTS = 45  # with the completed registration's own: three pages of 20


@pytest.fixture
def narrow(browser: Browser, server: LiveServer, sandbox: SandboxClient) -> Iterator[Page]:
    context = browser.new_context(
        base_url=server.base_url, viewport={"width": 375, "height": 800}, is_mobile=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def add_events(platform: Platform, oa: OA, count: int) -> None:
    with platform.uow() as uow:
        for _ in range(count):
            audit.record(uow.audit, uow.clock.now(), AuditKind.REGISTRATION_STARTED, oa.email, oa_appid=oa.appid)
        uow.commit()


def narrowest_cell(page: Page, table: str) -> float:
    """The width, in characters of the page's font size, of the narrowest content box among the table's cells."""
    width: float = page.evaluate(
        """(selector) => {
            const cells = [...document.querySelectorAll(selector + ' td')];
            return Math.min(...cells.map((td) => {
                const style = getComputedStyle(td);
                const inner = td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
                return inner / parseFloat(style.fontSize);
            }));
        }""",
        table,
    )
    return width


def test_tables_stack_and_the_history_is_paged_at_375px(
    narrow: Page, server: LiveServer, sandbox: SandboxClient
) -> None:
    oa = make_oa(sandbox, tag="窄表")
    appid = complete_through_services(server.platform, oa, "narrow-table@example.com")
    add_events(server.platform, oa, EXTRA_EVENTS)
    login(narrow, oa)
    narrow.goto("/oa/miniprograms")
    expect(narrow.locator(f"#linked-mps tr[data-appid='{appid}']")).to_be_visible()
    shot(narrow, "narrow-00-miniprograms")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    # Every cell keeps room for a line of text, not a column of single characters.
    assert narrowest_cell(narrow, "#linked-mps") >= 3
    assert narrowest_cell(narrow, "#audit-history") >= 3
    # Each cell says which column it is.
    label = narrow.locator("#linked-mps td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"小程序"'
    # 20 events a page; the page stays bounded (50 stacked rows measured ~8,800 px).
    assert narrow.locator("#audit-history tbody tr").count() == 20
    assert narrow.evaluate("document.documentElement.scrollHeight") < 5_000
    expect(narrow.locator("#history-page")).to_have_text("第 1 / 3 页")
    expect(narrow.locator("#history-prev")).to_have_count(0)
    first_page = narrow.locator("#audit-history tbody tr").all_inner_texts()

    narrow.click("#history-next")
    expect(narrow).to_have_url(f"{server.base_url}/oa/miniprograms?page=2#history")
    expect(narrow.locator("#history-page")).to_have_text("第 2 / 3 页")
    assert narrow.locator("#audit-history tbody tr").count() == 20
    narrow.click("#history-next")
    expect(narrow.locator("#history-page")).to_have_text("第 3 / 3 页")
    expect(narrow.locator("#history-next")).to_have_count(0)
    total = event_count(server.platform, oa)
    assert 40 < total <= 60
    assert narrow.locator("#audit-history tbody tr").count() == total - 40
    narrow.click("#history-prev")
    expect(narrow.locator("#history-page")).to_have_text("第 2 / 3 页")

    # Out of range or not a number: the nearest page, never an error.
    for query, shown in (("999", "第 3 / 3 页"), ("0", "第 1 / 3 页"), ("-2", "第 1 / 3 页"), ("x", "第 1 / 3 页")):
        response = narrow.goto(f"/oa/miniprograms?page={query}")
        assert response is not None and response.status == 200
        expect(narrow.locator("#history-page")).to_have_text(shown)
    assert narrow.locator("#audit-history tbody tr").all_inner_texts() == first_page


def event_count(platform: Platform, oa: OA) -> int:
    with platform.uow(readonly=True) as uow:
        count: int = uow.session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.oa_appid == oa.appid)
        ).scalar_one()
        return count
