"""Time is injected: the fixed clock the tests and the sandbox use, and the UTC normalization of stored values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from domain_fakes import NOW

from fastreg.domain.clock import Clock, FixedClock, SystemClock, as_utc


def test_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock(NOW)
    assert clock.now() == NOW
    assert clock.now() == NOW
    clock.advance(90)
    assert clock.now() == NOW + timedelta(seconds=90)
    clock.advance(0.5)
    assert clock.now() == NOW + timedelta(seconds=90.5)
    clock.advance(-90.5)
    assert clock.now() == NOW
    later = datetime(2027, 1, 1, tzinfo=UTC)
    clock.set(later)
    assert clock.now() == later


def test_fixed_clock_answers_in_utc() -> None:
    shanghai = datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = FixedClock(shanghai)
    assert clock.now() == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)
    clock.set(datetime(2026, 11, 30, 16, 0))  # naive: read as UTC
    assert clock.now() == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert clock.now().utcoffset() == timedelta(0)


def test_an_unset_fixed_clock_starts_at_the_real_time() -> None:
    before = datetime.now(UTC)
    now = FixedClock().now()
    assert before <= now <= datetime.now(UTC)


def test_system_clock_is_aware_utc() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


def test_fixed_clock_satisfies_the_clock_protocol() -> None:
    clock: Clock = FixedClock(NOW)
    assert clock.now() == NOW


def test_as_utc() -> None:
    assert as_utc(datetime(2026, 11, 30, 16, 0)) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert as_utc(datetime(2026, 11, 30, 16, 0)).tzinfo is UTC
    converted = as_utc(datetime(2026, 12, 1, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert converted == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC
    assert as_utc(NOW) == NOW
