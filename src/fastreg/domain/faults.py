"""Injected faults of the Open Platform API (sandbox only): what an integrator's test asks the twin to get
wrong on purpose, the way WeChat sometimes does — an error code instead of the answer, a slow answer, or the
call done and committed while the client never hears of it.

A fault names a ``/cgi-bin`` path, optionally one appid (the caller's account or an appid the request names),
and fires on that many matching calls (``times``), oldest fault first:

- ``errcode`` (with ``http_status`` or not): the call is not run; the answer is that errcode with WeChat's
  own ``errmsg`` for it. ``http_status`` alone answers that HTTP status with errcode -1.
- ``delay_ms`` alone: the call waits that long before it runs (a slow way in).
- ``after_commit: "timeout"``: the call runs and commits at once; the answer comes ``delay_ms`` later.
- ``after_commit: "drop"``: the call runs and commits, then (after ``delay_ms``, if given) the connection is
  closed without an answer — WeChat's "the MP was created but the client saw a timeout" case.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from fastreg.domain.errors import Err, ErrorSpec

AfterCommit = Literal["drop", "timeout"]

MAX_TIMES = 1000
MAX_DELAY_MS = 120_000

# WeChat's frequency limits: not rules of fast registration (so not in ``Err``), but answers every API can give.
# Texts as captured on the wire (WeChat's open community threads, 2020-2024).
DAILY_QUOTA = ErrorSpec(
    45009, "reach max api daily quota limit", "接口调用超过每日限额", "The API's daily quota is used up"
)
MINUTE_QUOTA = ErrorSpec(
    45011,
    "api minute-quota reach limit, must slower, retry next minute",
    "API 调用太频繁，请稍候再试",
    "The API was called too often; retry next minute",
)
_QUOTA_ERRORS = {spec.errcode: spec for spec in (DAILY_QUOTA, MINUTE_QUOTA)}
# fastreg's own console codes (91xxx) never reach the Open API.
_PRIVATE_CODES = range(90000, 100000)


def fault_error(errcode: int) -> ErrorSpec | None:
    """WeChat's answer for ``errcode`` (-1, 45009, 45011, or any code of the Open API's catalogue)."""
    if errcode in _QUOTA_ERRORS:
        return _QUOTA_ERRORS[errcode]
    if errcode in _PRIVATE_CODES:
        return None
    return next((err.value for err in Err if err.value.errcode == errcode), None)


def injectable_errcodes() -> list[int]:
    codes = {err.value.errcode for err in Err if err.value.errcode not in _PRIVATE_CODES} | set(_QUOTA_ERRORS)
    return sorted(codes)


@dataclass(frozen=True, kw_only=True)
class FaultSpec:
    """What a test asks for."""

    path: str
    appid: str | None = None
    times: int = 1
    errcode: int | None = None
    http_status: int | None = None
    delay_ms: int | None = None
    after_commit: AfterCommit | None = None

    def problem(self) -> str | None:
        """Why this is not a fault fastreg can inject, or None."""
        if not 1 <= self.times <= MAX_TIMES:
            return f"times must be between 1 and {MAX_TIMES}"
        if self.runs_the_call and self.delay_ms is None and self.after_commit is None:
            return "give at least one of errcode, http_status, delay_ms, after_commit"
        if self.errcode is not None and fault_error(self.errcode) is None:
            return f"errcode {self.errcode} is not one WeChat answers here; one of {injectable_errcodes()}"
        if self.http_status is not None and not 200 <= self.http_status <= 599:
            return "http_status must be between 200 and 599"
        if self.delay_ms is not None and not 0 <= self.delay_ms <= MAX_DELAY_MS:
            return f"delay_ms must be between 0 and {MAX_DELAY_MS}"
        if self.after_commit is not None and not self.runs_the_call:
            return "after_commit runs the call: it excludes errcode and http_status"
        if self.after_commit == "timeout" and not self.delay_ms:
            return "after_commit timeout answers after delay_ms: give delay_ms"
        return None

    @property
    def runs_the_call(self) -> bool:
        return self.errcode is None and self.http_status is None


@dataclass(frozen=True, kw_only=True)
class Fault(FaultSpec):
    """An armed fault."""

    id: str
    remaining: int
    created_at: str  # ISO-8601 UTC, by the platform clock
    order: int  # creation order (real-time nanoseconds): the oldest matching fault fires first

    @property
    def delay_seconds(self) -> float:
        return (self.delay_ms or 0) / 1000

    def answer(self) -> tuple[int, ErrorSpec]:
        """The HTTP status and the error a fault that does not run the call answers with."""
        spec = fault_error(self.errcode) if self.errcode is not None else None
        return self.http_status or 200, spec or Err.SYSTEM.value

    def concerns(self, appids: frozenset[str]) -> bool:
        return self.appid is None or self.appid in appids

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["order"]
        return data

    def state(self) -> dict[str, Any]:
        """How it is stored (``sandbox_state``, keyed by id)."""
        data = asdict(self)
        del data["id"]
        return data

    @classmethod
    def from_state(cls, fault_id: str, state: dict[str, Any]) -> Fault:
        return cls(id=fault_id, **state)
