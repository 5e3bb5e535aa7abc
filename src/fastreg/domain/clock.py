"""Time is injected: nothing in fastreg calls ``datetime.now()`` directly."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The instants fastreg works with: a clock setting or a date outside them is refused (far dates overflow
# ``datetime`` once a TTL is added, and no real account is certified until the year 9999).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A settable clock for tests and the sandbox: frozen at a point, or running with an offset."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = as_utc(at) if at else datetime.now(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)

    def advance(self, seconds: float) -> None:
        self._at += timedelta(seconds=seconds)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def in_supported_range(at: datetime) -> bool:
    return EARLIEST <= as_utc(at) < LATEST


def moved_by(at: datetime, seconds: float) -> datetime | None:
    """``at`` moved by ``seconds``; None when the move is not a finite number or leaves the supported range."""
    if not math.isfinite(seconds) or abs(seconds) > (LATEST - EARLIEST).total_seconds():
        return None
    moved = as_utc(at) + timedelta(seconds=seconds)
    return moved if in_supported_range(moved) else None


def range_error(what: str) -> str:
    return f"{what} must be between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()} (UTC)"
