"""The worker's SQL repositories on SQLite and PostgreSQL: a queued job is leased by one worker only, a fault is
taken at most its times by concurrent calls, and queued mail or pushes vanish with a rolled-back transaction."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import OutgoingMail
from fastreg.domain.faults import FaultSpec
from fastreg.platform import Platform
from fastreg.services import faults


def _mail(to: str, now: datetime) -> OutgoingMail:
    return OutgoingMail(to=to, subject="s", text="t", html="", attempts=0, next_attempt_at=now, created_at=now)


def test_a_due_mail_is_leased_by_one_worker_only(platform: Platform) -> None:
    now = datetime.now(UTC)
    with platform.uow() as uow:
        uow.mail.queue(_mail("a@example.com", now))
        uow.mail.queue(_mail("b@example.com", now + timedelta(seconds=1)))
        uow.commit()
    with platform.uow() as uow:
        assert uow.mail.untried() == 2
    later = now + timedelta(seconds=2)
    with platform.uow() as first:
        claimed = first.mail.claim_due(later, later + timedelta(seconds=60), 10)
        first.commit()
    assert [m.to for m in claimed] == ["a@example.com", "b@example.com"]
    with platform.uow() as second:
        assert not second.mail.any_due(later)
        assert second.mail.claim_due(later, later + timedelta(seconds=60), 10) == []
    with platform.uow() as uow:
        uow.mail.record_attempt(claimed[0].id, attempts=1, next_attempt_at=later, sent_at=later, last_error=None)
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert uow.mail.untried() == 1


def test_queued_mail_is_rolled_back_with_its_transaction(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.mail.queue(_mail("gone@example.com", datetime.now(UTC)))
    with platform.uow(readonly=True) as uow:
        assert uow.mail.untried() == 0


def test_concurrent_calls_take_a_fault_at_most_its_times(platform: Platform) -> None:
    fault = faults.create(platform, FaultSpec(path="/cgi-bin/x", times=3, errcode=-1))
    with ThreadPoolExecutor(max_workers=6) as pool:
        taken = list(pool.map(lambda _: faults.consume(platform, fault.id), range(12)))
    assert sum(t is not None for t in taken) == 3
    (left,) = faults.list_all(platform)
    assert left.remaining == 0


def test_concurrent_sweeps_expire_a_registration_once(platform: Platform, clock: FixedClock) -> None:
    from fastreg.adapters.db.models import AuditEvent, Operator, Registration, operators
    from fastreg.services import registration
    from fastreg.services.pushes import sweep_expired
    from tests.db.helpers import make_oa

    oa = make_oa(platform)
    with platform.uow(readonly=True) as uow:
        operator = uow.session.execute(select(Operator).where(operators.c.email == oa.operator_email)).scalar_one()
    started = registration.start(platform, operator.id)
    clock.advance(platform.settings.pending_ttl_seconds + 1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        swept = list(pool.map(lambda _: sweep_expired(platform), range(4)))
    assert sum(swept) >= 1
    with platform.uow(readonly=True) as uow:
        row = uow.session.get(Registration, started.id)
        assert row is not None and row.status == "expired"
        expired = [e for e in uow.session.execute(select(AuditEvent)).scalars() if e.kind == "expired"]
    assert len(expired) == 1
