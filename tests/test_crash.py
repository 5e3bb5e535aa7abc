"""A small version of ``bench/crash.py``: SIGKILL a live server (its own process) during a registration load,
restart it, and check that nothing answered is lost and nothing is half-created; on SQLite (one worker) and
PostgreSQL (two workers)."""

from __future__ import annotations

import pytest
from bench.crash import Report, Sent, run_round, verify
from sqlalchemy import delete, select, update

from fastreg.adapters.db.models import Link, MiniProgram, MonthlyCounter
from fastreg.platform import Platform
from fastreg.services.fastregister import fastregister

from .db.helpers import issue_ticket, setup

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("kind", "workers"), [("sqlite", 1), ("postgres", 2)])
def test_sigkill_mid_load_loses_nothing_and_leaves_nothing_half_done(
    kind: str, workers: int, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails under FASTREG_REQUIRE_POSTGRES) when unreachable
    report = run_round(kind, tickets=60, kill_after=12, connections=8, workers=workers)
    assert report.problems == []
    assert report.answered_successes >= 12
    # Everything not answered before the kill was settled after the restart: registered now, or already spent.
    assert report.retried_registered + report.retried_refused_61058 == report.unanswered
    assert report.mps == 60


def _register(platform: Platform, count: int) -> list[Sent]:
    s = setup(platform)
    sent = []
    for _ in range(count):
        result = fastregister(platform, s.oa.appid, s.component_id, issue_ticket(platform, s))
        item = Sent(call=None, oa_appid=s.oa.appid, answered=True, errcode=0, appid=result.appid)  # type: ignore[arg-type]
        sent.append(item)
    return sent


def test_the_check_passes_on_consistent_data(platform: Platform) -> None:
    sent = _register(platform, 2)
    report = Report()
    verify(platform, sent, report)
    assert report.problems == [] and report.mps == 2


def test_the_check_finds_a_lost_success(platform: Platform) -> None:
    sent = _register(platform, 1)
    sent.append(Sent(call=None, oa_appid=sent[0].oa_appid, answered=True, errcode=0, appid="wx0000000000000000"))  # type: ignore[arg-type]
    report = Report()
    verify(platform, sent, report)
    assert any("wx0000000000000000" in problem for problem in report.problems)


def test_the_check_finds_a_half_created_mp(platform: Platform) -> None:
    sent = _register(platform, 2)
    with platform.uow() as uow:
        mp_id = uow.session.execute(select(MiniProgram.id).where(MiniProgram.appid == sent[0].appid)).scalar_one()
        uow.session.execute(delete(Link).where(Link.mp_id == mp_id))
        uow.commit()
    report = Report()
    verify(platform, sent, report)
    assert any("no fast_register link" in problem for problem in report.problems)


def test_the_check_finds_an_over_spent_quota(platform: Platform) -> None:
    sent = _register(platform, 1)
    with platform.uow() as uow:
        uow.session.execute(update(MonthlyCounter).values(used=platform.settings.monthly_quota + 1))
        uow.commit()
    report = Report()
    verify(platform, sent, report)
    assert any("over quota" in problem for problem in report.problems)
    assert any("quota counter" in problem for problem in report.problems)
