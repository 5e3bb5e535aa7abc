"""Monthly quota (rules.md, "Monthly quota"): limits 5 and 1, the calendar month in Asia/Shanghai, QuotaStatus."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from domain_fakes import FIRST_DECEMBER_SECOND, LAST_NOVEMBER_SECOND, TZ, FakePrincipal, clock, eligible_input
from hypothesis import given
from hypothesis import strategies as st

from fastreg.domain.errors import Err
from fastreg.domain.model import PrincipalType
from fastreg.domain.rules import (
    QuotaLimits,
    QuotaStatus,
    Stage,
    calendar_month,
    first_refusal,
    month_bounds,
    monthly_limit,
)

SHANGHAI = timezone(timedelta(hours=8))  # no daylight saving time in China since 1991


def oracle_month(at: datetime) -> str:
    """Independent of the code under test: the month of the same instant at fixed UTC+8."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m")


# ---------------------------------------------------------------- limits


def test_default_limits() -> None:
    limits = QuotaLimits()
    assert (limits.monthly, limits.individual_business_monthly, limits.principal_mps, limits.links_monthly) == (
        5,
        1,
        50,
        13,
    )


@pytest.mark.parametrize("principal_type", [t for t in PrincipalType if t is not PrincipalType.INDIVIDUAL_BUSINESS])
def test_monthly_limit_is_5(principal_type: str) -> None:
    assert monthly_limit(principal_type, QuotaLimits()) == 5


def test_monthly_limit_is_1_for_an_individual_business() -> None:
    assert monthly_limit(PrincipalType.INDIVIDUAL_BUSINESS, QuotaLimits()) == 1
    assert monthly_limit("individual_business", QuotaLimits()) == 1


def test_monthly_limits_are_configurable() -> None:
    limits = QuotaLimits(monthly=9, individual_business_monthly=3)
    assert monthly_limit("enterprise", limits) == 9
    assert monthly_limit("individual_business", limits) == 3


# ---------------------------------------------------------------- QuotaStatus


@pytest.mark.parametrize(
    ("limit", "used", "remaining", "exhausted"),
    [
        (5, 0, 5, False),
        (5, 4, 1, False),
        (5, 5, 0, True),
        (5, 6, 0, True),  # never negative, even if over-counted
        (1, 0, 1, False),
        (1, 1, 0, True),
        (0, 0, 0, True),  # a limit of 0 disables fast registration
    ],
)
def test_quota_status(limit: int, used: int, remaining: int, exhausted: bool) -> None:
    status = QuotaStatus(month="2026-11", limit=limit, used=used)
    assert status.remaining == remaining
    assert status.exhausted is exhausted


def test_quota_status_is_a_value() -> None:
    assert QuotaStatus("2026-11", 5, 2) == QuotaStatus(month="2026-11", limit=5, used=2)
    with pytest.raises(AttributeError):
        QuotaStatus("2026-11", 5, 2).used = 3  # type: ignore[misc]


@given(st.integers(0, 100), st.integers(0, 100))
def test_quota_status_remaining_and_exhausted_agree(limit: int, used: int) -> None:
    status = QuotaStatus("2026-11", limit, used)
    assert status.remaining == max(limit - used, 0)
    assert status.exhausted is (status.remaining == 0)


# ---------------------------------------------------------------- the month in Asia/Shanghai


def test_november_ends_at_2026_11_30T16_00Z() -> None:
    assert LAST_NOVEMBER_SECOND.isoformat() == "2026-11-30T15:59:59+00:00"
    assert calendar_month(LAST_NOVEMBER_SECOND, TZ) == "2026-11"
    assert FIRST_DECEMBER_SECOND.isoformat() == "2026-11-30T16:00:00+00:00"
    assert calendar_month(FIRST_DECEMBER_SECOND, TZ) == "2026-12"
    assert calendar_month(FIRST_DECEMBER_SECOND - timedelta(microseconds=1), TZ) == "2026-11"


@pytest.mark.parametrize(
    ("at", "month"),
    [
        (datetime(2026, 10, 31, 15, 59, 59, tzinfo=UTC), "2026-10"),
        (datetime(2026, 10, 31, 16, 0, 0, tzinfo=UTC), "2026-11"),
        (datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC), "2026-11"),
        (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "2026-12"),  # UTC still says November
        (datetime(2026, 12, 31, 15, 59, 59, tzinfo=UTC), "2026-12"),
        (datetime(2026, 12, 31, 16, 0, 0, tzinfo=UTC), "2027-01"),  # year rollover
        (datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC), "2027-01"),
        (datetime(2028, 2, 28, 16, 0, 0, tzinfo=UTC), "2028-02"),  # 29 February 2028 in Shanghai
        (datetime(2028, 2, 29, 16, 0, 0, tzinfo=UTC), "2028-03"),
    ],
)
def test_calendar_month_boundaries(at: datetime, month: str) -> None:
    assert calendar_month(at, TZ) == month


def test_calendar_month_of_a_naive_value_reads_it_as_utc() -> None:
    assert calendar_month(datetime(2026, 11, 30, 15, 59, 59), TZ) == "2026-11"
    assert calendar_month(datetime(2026, 11, 30, 16, 0, 0), TZ) == "2026-12"


def test_calendar_month_of_an_aware_value_in_another_zone() -> None:
    local_midnight = datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo(TZ))
    assert calendar_month(local_midnight, TZ) == "2026-12"
    assert calendar_month(local_midnight - timedelta(seconds=1), TZ) == "2026-11"
    new_york = datetime(2026, 11, 30, 11, 0, tzinfo=ZoneInfo("America/New_York"))  # 16:00Z
    assert calendar_month(new_york, TZ) == "2026-12"


def test_calendar_month_in_another_configured_zone() -> None:
    assert calendar_month(FIRST_DECEMBER_SECOND, "UTC") == "2026-11"
    assert calendar_month(datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "UTC") == "2026-12"


def test_calendar_month_through_the_fixed_clock() -> None:
    fake = clock(LAST_NOVEMBER_SECOND)
    assert calendar_month(fake.now(), TZ) == "2026-11"
    fake.advance(1)
    assert calendar_month(fake.now(), TZ) == "2026-12"


# ---------------------------------------------------------------- month_bounds


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        ("2026-11", datetime(2026, 10, 31, 16, tzinfo=UTC), datetime(2026, 11, 30, 16, tzinfo=UTC)),
        ("2026-12", datetime(2026, 11, 30, 16, tzinfo=UTC), datetime(2026, 12, 31, 16, tzinfo=UTC)),
        ("2027-01", datetime(2026, 12, 31, 16, tzinfo=UTC), datetime(2027, 1, 31, 16, tzinfo=UTC)),
        ("2028-02", datetime(2028, 1, 31, 16, tzinfo=UTC), datetime(2028, 2, 29, 16, tzinfo=UTC)),
        ("2027-02", datetime(2027, 1, 31, 16, tzinfo=UTC), datetime(2027, 2, 28, 16, tzinfo=UTC)),
    ],
)
def test_month_bounds(month: str, start: datetime, end: datetime) -> None:
    bounds = month_bounds(month, TZ)
    assert bounds == (start, end)
    assert all(b.utcoffset() == timedelta(0) for b in bounds)
    assert calendar_month(bounds[0], TZ) == month  # start inclusive
    assert calendar_month(bounds[1] - timedelta(microseconds=1), TZ) == month
    assert calendar_month(bounds[1], TZ) != month  # end exclusive


def test_consecutive_months_tile_the_year() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 13)] + ["2027-01"]
    for this, following in itertools.pairwise(months):
        assert month_bounds(this, TZ)[1] == month_bounds(following, TZ)[0]


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))


@given(instants)
def test_calendar_month_is_the_month_at_utc_plus_8(at: datetime) -> None:
    assert calendar_month(at, TZ) == oracle_month(at)


@given(instants)
def test_every_instant_lies_within_the_bounds_of_its_month(at: datetime) -> None:
    start, end = month_bounds(calendar_month(at, TZ), TZ)
    assert start <= at < end
    assert timedelta(days=28) <= end - start <= timedelta(days=31)


# ---------------------------------------------------------------- only completions count, in their month


class Ledger:
    """The smallest faithful model of the quota: completions counted per calendar month of completion."""

    def __init__(self, principal_type: str, limits: QuotaLimits) -> None:
        self.limit = monthly_limit(principal_type, limits)
        self.used: Counter[str] = Counter()

    def status(self, now: datetime) -> QuotaStatus:
        month = calendar_month(now, TZ)
        return QuotaStatus(month=month, limit=self.limit, used=self.used[month])

    def complete(self, now: datetime) -> bool:
        status = self.status(now)
        if status.exhausted:
            return False
        self.used[status.month] += 1
        return True


@pytest.mark.parametrize(("principal_type", "limit"), [("enterprise", 5), ("individual_business", 1)])
def test_a_month_grants_exactly_its_limit_then_the_next_month_starts_afresh(principal_type: str, limit: int) -> None:
    ledger = Ledger(principal_type, QuotaLimits())
    fake = clock(LAST_NOVEMBER_SECOND - timedelta(hours=limit + 2))
    granted = []
    for _ in range(limit + 2):
        granted.append(ledger.complete(fake.now()))
        fake.advance(3600)
    assert granted == [True] * limit + [False, False]
    assert ledger.status(fake.now()).remaining == 0
    assert calendar_month(fake.now(), TZ) == "2026-11"
    fake.set(FIRST_DECEMBER_SECOND)
    assert ledger.status(fake.now()) == QuotaStatus("2026-12", limit, 0)
    assert ledger.complete(fake.now())
    assert ledger.used == Counter({"2026-11": limit, "2026-12": 1})


def test_a_registration_started_in_november_and_completed_in_december_counts_in_december() -> None:
    ledger = Ledger("enterprise", QuotaLimits())
    ledger.used["2026-11"] = 4
    started = LAST_NOVEMBER_SECOND
    assert first_refusal(eligible_input(now=started, used=ledger.status(started).used), Stage.START) is None
    completed = FIRST_DECEMBER_SECOND
    assert first_refusal(eligible_input(now=completed, used=ledger.status(completed).used), Stage.COMPLETE) is None
    assert ledger.complete(completed)
    assert ledger.used == Counter({"2026-11": 4, "2026-12": 1})


def test_quota_exhausted_in_november_refuses_at_15_59_59Z_and_allows_at_16_00_00Z() -> None:
    principal = FakePrincipal(type="individual_business")
    ledger = Ledger(principal.type, QuotaLimits())
    assert ledger.complete(LAST_NOVEMBER_SECOND - timedelta(days=3))
    refusal = first_refusal(
        eligible_input(principal=principal, now=LAST_NOVEMBER_SECOND, used=ledger.status(LAST_NOVEMBER_SECOND).used),
        Stage.START,
    )
    assert refusal is not None
    assert refusal.err is Err.QUOTA_EXCEEDED
    assert refusal.message() == "本月已复用资质创建1个小程序,不可新增。"
    december = eligible_input(
        principal=principal, now=FIRST_DECEMBER_SECOND, used=ledger.status(FIRST_DECEMBER_SECOND).used
    )
    assert first_refusal(december, Stage.START) is None
