"""The sandbox clock, kept in the database so every worker sees the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from fastreg.adapters.db.models import SandboxState
from fastreg.adapters.db.prepared import PreparedConnection, prepared
from fastreg.adapters.db.statements import SANDBOX_STATE
from fastreg.domain.clock import Clock, as_utc

CLOCK_KEY = "clock"


class FrozenAt:
    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at


class Offset:
    def __init__(self, base: Clock, offset: timedelta) -> None:
        self._base = base
        self._offset = offset

    def now(self) -> datetime:
        return self._base.now() + self._offset


def load_clock(source: Session | PreparedConnection, real: Clock) -> tuple[Clock, bool]:
    """The sandbox clock as stored: frozen at a point, offset from real time, or real. Returns (clock, frozen)."""
    row = prepared(source).execute(SANDBOX_STATE, {"key": CLOCK_KEY}).first()
    return clock_from_state(row.value if row else None, real)


def clock_from_state(state: dict[str, Any] | None, real: Clock) -> tuple[Clock, bool]:
    if not state:
        return real, False
    if state.get("frozen_at"):
        return FrozenAt(as_utc(datetime.fromisoformat(state["frozen_at"]))), True
    offset = float(state.get("offset_seconds", 0))
    return (Offset(real, timedelta(seconds=offset)) if offset else real), False


def freeze(session: Session, at: datetime) -> None:
    _store(session, {"frozen_at": as_utc(at).isoformat()})


def make_real(session: Session) -> None:
    _store(session, {})


def advance(session: Session, real: Clock, seconds: float) -> None:
    state = session.get(SandboxState, CLOCK_KEY)
    value = dict(state.value) if state else {}
    if value.get("frozen_at"):
        at = as_utc(datetime.fromisoformat(value["frozen_at"])) + timedelta(seconds=seconds)
        value = {"frozen_at": at.isoformat()}
    else:
        value = {"offset_seconds": float(value.get("offset_seconds", 0)) + seconds}
    _store(session, value)


def _store(session: Session, value: dict[str, Any]) -> None:
    state = session.get(SandboxState, CLOCK_KEY)
    if state is None:
        session.add(SandboxState(key=CLOCK_KEY, value=value))
    else:
        state.value = value


def utc_iso(at: datetime) -> str:
    return as_utc(at).astimezone(UTC).isoformat().replace("+00:00", "Z")
