"""Property tests of the monthly quota: random sequences of attempts, completions, failures, cancellations and
clock moves (across month boundaries, forwards and backwards) run against a model built only from the domain's
calendar_month, monthly_limit, QuotaStatus, eligibility and state machine. Whatever the sequence, no month grants
more than its limit, only completions count (in the month they completed), and a completion is refused for the
quota only when that month is really used up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from domain_fakes import TZ, FakeOA, FakePrincipal
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fastreg.domain.clock import FixedClock
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import RegistrationStatus
from fastreg.domain.rules import (
    EligibilityFacts,
    QuotaLimits,
    QuotaStatus,
    Stage,
    calendar_month,
    first_refusal,
    is_expired,
    month_bounds,
    monthly_limit,
    next_status,
)

S = RegistrationStatus
UTC_PLUS_8 = timezone(timedelta(hours=8))
PENDING_TTL = 7 * 24 * 3600
BOUNDARIES = [
    datetime(2026, 11, 30, 16, 0, tzinfo=UTC),  # November -> December
    datetime(2026, 12, 31, 16, 0, tzinfo=UTC),  # 2026 -> 2027
    datetime(2028, 2, 29, 16, 0, tzinfo=UTC),  # leap February -> March
]


def oracle_month(at: datetime) -> str:
    return at.astimezone(UTC_PLUS_8).strftime("%Y-%m")


@dataclass
class Reg:
    status: RegistrationStatus
    since: datetime


class QuotaMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(BOUNDARIES[0])
        self.limits = QuotaLimits()
        self.principal = FakePrincipal()
        self.oa = FakeOA(verify_expires_at=None)
        self.registrations: list[Reg] = []
        self.used: Counter[str] = Counter()  # the counter a database would keep, per month of completion
        self.completed_at: list[datetime] = []  # what actually completed, for the independent check
        self.quota_refusals = 0

    @initialize(
        principal_type=st.sampled_from(["enterprise", "individual_business", "government", "media"]),
        monthly=st.integers(1, 6),
        individual=st.integers(1, 3),
        boundary=st.sampled_from(BOUNDARIES),
        offset=st.integers(-3 * 86400, 3 * 86400),
    )
    def setup(self, principal_type: str, monthly: int, individual: int, boundary: datetime, offset: int) -> None:
        self.principal = FakePrincipal(type=principal_type)
        self.limits = QuotaLimits(monthly=monthly, individual_business_monthly=individual)
        self.clock.set(boundary + timedelta(seconds=offset))

    # ---------------------------------------------------------------- helpers

    @property
    def limit(self) -> int:
        return monthly_limit(self.principal.type, self.limits)

    def quota(self) -> QuotaStatus:
        month = calendar_month(self.clock.now(), TZ)
        return QuotaStatus(month=month, limit=self.limit, used=self.used[month])

    def facts(self, *, exclude: Reg | None = None) -> EligibilityFacts:
        return EligibilityFacts(
            oa=self.oa,
            principal=self.principal,
            principal_mp_count=0,
            quota=self.quota(),
            has_pending=any(r.status is S.PENDING and r is not exclude for r in self.registrations),
            now=self.clock.now(),
            limits=self.limits,
            reuse_certification=True,
            scan_valid=True,
        )

    def pick(self, index: int, *statuses: RegistrationStatus) -> Reg | None:
        candidates = [r for r in self.registrations if r.status in statuses]
        return candidates[index % len(candidates)] if candidates else None

    def snapshot(self) -> tuple[Counter[str], list[RegistrationStatus]]:
        return Counter(self.used), [r.status for r in self.registrations]

    # ---------------------------------------------------------------- attempts and steps

    @rule()
    def attempt(self) -> None:
        before = self.snapshot()
        facts = self.facts()
        refusal = first_refusal(facts, Stage.START)
        if refusal is None:
            self.registrations.append(Reg(S.DRAFT, self.clock.now()))
            return
        if facts.quota.exhausted:
            assert refusal.err is Err.QUOTA_EXCEEDED
            assert refusal.message() == f"本月已复用资质创建{self.limit}个小程序,不可新增。"
            self.quota_refusals += 1
        else:
            assert refusal.err is Err.PENDING_EXISTS
            assert facts.has_pending
        assert self.snapshot() == before  # a refused attempt changes nothing

    @rule(index=st.integers(0, 50))
    def confirm_scan(self, index: int) -> None:
        reg = self.pick(index, S.DRAFT)
        if reg is not None:
            reg.status = next_status(reg.status, "scan_confirmed")

    @rule(index=st.integers(0, 50))
    def submit_account(self, index: int) -> None:
        reg = self.pick(index, S.VERIFIED)
        if reg is None:
            return
        refusal = first_refusal(self.facts(exclude=reg), Stage.START)
        if refusal is None:
            reg.status = next_status(reg.status, "account_submitted")
            reg.since = self.clock.now()
        else:
            assert refusal.err in (Err.PENDING_EXISTS, Err.QUOTA_EXCEEDED)
            assert reg.status is S.VERIFIED

    @rule(index=st.integers(0, 50))
    def complete(self, index: int) -> None:
        reg = self.pick(index, S.PENDING)
        if reg is None:
            return
        before = self.snapshot()
        facts = self.facts(exclude=reg)
        refusal = first_refusal(facts, Stage.COMPLETE)
        if refusal is None:
            assert not facts.quota.exhausted
            reg.status = next_status(reg.status, "completed")
            self.used[facts.quota.month] += 1
            self.completed_at.append(self.clock.now())
            if self.used[facts.quota.month] == self.limit:
                event("a month's quota used up")
        else:
            # The only reason a pending registration can fail here is the month's quota, and only when used up.
            assert refusal.err is Err.QUOTA_EXCEEDED
            assert self.used[calendar_month(self.clock.now(), TZ)] >= self.limit
            self.quota_refusals += 1
            event("completion refused for the quota")
            assert self.snapshot() == before

    @rule()
    def open_api_registration(self) -> None:
        """The Open API channel: a confirmed ticket runs draft → pending → completed (or a refusal) at once."""
        count = len(self.registrations)
        self.attempt()
        if len(self.registrations) == count:
            return  # refused
        reg = self.registrations[-1]
        # Index -1 picks the newest registration in the wanted state: this one.
        self.confirm_scan(-1)
        self.submit_account(-1)
        if reg.status is S.PENDING:
            self.complete(-1)

    @rule(index=st.integers(0, 50), event=st.sampled_from(["cancel", "expire"]))
    def fail(self, index: int, event: str) -> None:
        reg = self.pick(index, S.DRAFT, S.VERIFIED, S.PENDING)
        if reg is None:
            return
        used = Counter(self.used)
        reg.status = next_status(reg.status, event)
        assert reg.status in (S.CANCELLED, S.EXPIRED)
        assert self.used == used  # failures never count

    @rule()
    def sweep_expired(self) -> None:
        now = self.clock.now()
        for reg in self.registrations:
            if is_expired(reg.status, reg.since, now, PENDING_TTL):
                assert now - reg.since >= timedelta(seconds=PENDING_TTL)
                reg.status = next_status(reg.status, "expire")

    @rule(
        index=st.integers(0, 50),
        event=st.sampled_from(["scan_confirmed", "account_submitted", "completed", "cancel", "expire"]),
    )
    def event_on_a_closed_registration(self, index: int, event: str) -> None:
        reg = self.pick(index, S.COMPLETED, S.CANCELLED, S.EXPIRED)
        if reg is None:
            return
        status = reg.status
        try:
            next_status(status, event)
        except DomainError as error:
            assert error.err is Err.WRONG_STATE
        else:
            raise AssertionError(f"{status} accepted {event}")

    # ---------------------------------------------------------------- clock moves

    @rule(seconds=st.integers(1, 20 * 86400))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(seconds=st.integers(1, 3 * 86400))
    def rewind(self, seconds: int) -> None:  # the sandbox clock may be set back
        self.clock.advance(-seconds)

    @rule(offset=st.integers(-2, 2))
    def to_the_month_boundary(self, offset: int) -> None:
        end = month_bounds(calendar_month(self.clock.now(), TZ), TZ)[1]
        self.clock.set(end + timedelta(seconds=offset))

    # ---------------------------------------------------------------- what must always hold

    @invariant()
    def no_month_grants_more_than_its_limit(self) -> None:
        assert all(count <= self.limit for count in self.used.values())
        if len(+self.used) > 1:
            event("completions in more than one month")

    @invariant()
    def only_completions_count_in_their_shanghai_month(self) -> None:
        assert +self.used == Counter(oracle_month(at) for at in self.completed_at)
        assert len(self.completed_at) == sum(r.status is S.COMPLETED for r in self.registrations)

    @invariant()
    def at_most_one_pending(self) -> None:
        assert sum(r.status is S.PENDING for r in self.registrations) <= 1

    @invariant()
    def remaining_is_what_is_left(self) -> None:
        status = self.quota()
        assert status.remaining == self.limit - self.used[status.month] >= 0
        assert status.exhausted is (status.remaining == 0)


QuotaMachine.TestCase.settings = settings(
    max_examples=75,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestQuotaMachine = QuotaMachine.TestCase


# ---------------------------------------------------------------- the same, as one flat sequence

operations = st.lists(
    st.tuples(
        st.sampled_from(["attempt", "complete", "fail", "cancel"]),
        st.integers(-2 * 86400, 12 * 86400),  # clock move before the operation, possibly backwards
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    ops=operations,
    start=st.sampled_from(BOUNDARIES),
    start_offset=st.integers(-86400, 86400),
    principal_type=st.sampled_from(["enterprise", "individual_business"]),
)
def test_each_month_grants_exactly_min_of_limit_and_completions_tried(
    ops: list[tuple[str, int]], start: datetime, start_offset: int, principal_type: str
) -> None:
    limits = QuotaLimits()
    limit = monthly_limit(principal_type, limits)
    assert limit == (1 if principal_type == "individual_business" else 5)
    clock = FixedClock(start + timedelta(seconds=start_offset))
    used: Counter[str] = Counter()
    tried: Counter[str] = Counter()
    for kind, move in ops:
        clock.advance(move)
        status = QuotaStatus(calendar_month(clock.now(), TZ), limit, used[calendar_month(clock.now(), TZ)])
        if kind == "complete":
            tried[oracle_month(clock.now())] += 1
            if not status.exhausted:
                used[status.month] += 1
        elif kind == "attempt":
            assert status.exhausted is (status.remaining == 0)
        # "fail" and "cancel" end a registration without counting anything.
    assert all(count <= limit for count in used.values())
    assert +used == +Counter({month: min(limit, count) for month, count in tried.items()})
