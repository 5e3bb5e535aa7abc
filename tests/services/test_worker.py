"""The worker's use cases on the fake unit of work: injected faults, the push queue, the mail outbox and the
verify-ticket rhythm. Each test fails when its rule is broken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import Component, Credential, MailMessage, OutgoingMail, PushJob
from fastreg.domain.faults import FaultSpec
from fastreg.services import faults, pushes, sandbox
from tests.fakes import FakeContext

START = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def context() -> FakeContext:
    return FakeContext(clock=FixedClock(START))


def _component(context: FakeContext, *, callback: str | None = "http://tp.test/cb") -> Component:
    return context.store.add(
        Component(
            appid="wxcomponent0001",
            secret_hash="x",
            name="TP",
            redirect_domain="tp.test",
            callback_url=callback,
            permission_sets=[],
            token="tok",
            encoding_aes_key="a" * 43,
            created_at=START,
        )
    )


# ---------------------------------------------------------------- faults


def test_a_fault_fires_at_most_its_times(context: FakeContext) -> None:
    fault = faults.create(context, FaultSpec(path="/cgi-bin/x", times=2, errcode=-1))
    assert [f.id for f in faults.armed(faults.list_all(context), "/cgi-bin/x")] == [fault.id]
    assert faults.armed(faults.list_all(context), "/cgi-bin/other") == []
    assert faults.consume(context, fault.id) is not None
    assert faults.consume(context, fault.id) is not None
    assert faults.consume(context, fault.id) is None
    assert faults.armed(faults.list_all(context), "/cgi-bin/x") == []  # used up: no longer armed


def test_faults_fire_oldest_first_and_are_deleted(context: FakeContext) -> None:
    first = faults.create(context, FaultSpec(path="/p"))
    second = faults.create(context, FaultSpec(path="/p"))
    assert [f.id for f in faults.armed(faults.list_all(context), "/p")] == [first.id, second.id]
    assert faults.delete(context, first.id) and not faults.delete(context, first.id)
    assert faults.delete_all(context) == 1
    assert faults.list_all(context) == []


# ---------------------------------------------------------------- pushes


def test_a_push_needs_a_callback_url_and_is_rolled_back_with_its_transaction(context: FakeContext) -> None:
    component = _component(context, callback=None)
    with context.uow() as uow:
        assert not pushes.enqueue_authorization_event(uow.pushes, START, component, pushes.AUTHORIZED, "wxoa")
        uow.commit()
    component.callback_url = "http://tp.test/cb"
    with context.uow() as uow:  # not committed
        assert pushes.enqueue_authorization_event(uow.pushes, START, component, pushes.AUTHORIZED, "wxoa")
    assert context.store.all(PushJob) == []


def test_a_failed_delivery_is_retried_with_backoff_and_a_success_is_final(context: FakeContext) -> None:
    component = _component(context)
    with context.uow() as uow:
        pushes.enqueue_authorization_event(uow.pushes, START, component, pushes.AUTHORIZED, "wxoa", "code", 600)
        uow.commit()
    (delivery,) = pushes.claim_due(context)
    assert delivery.url == "http://tp.test/cb" and "msg_signature" in delivery.push.params
    assert pushes.claim_due(context) == []  # leased: no second worker takes it
    pushes.record_outcome(context, delivery, pushes.Outcome(error="HTTP 500"))
    (job,) = context.store.all(PushJob)
    assert job.attempts == 1 and job.delivered_at is None and job.last_error == "HTTP 500"
    assert job.next_attempt_at > datetime.now(UTC)  # not due again before its backoff
    assert context.observer.push_failures == 1
    job.next_attempt_at = START  # the backoff has passed
    (again,) = pushes.claim_due(context)
    pushes.record_outcome(context, again, pushes.Outcome())
    assert job.delivered_at is not None and job.attempts == 2
    job_due = job.next_attempt_at <= datetime.now(UTC)
    assert not job_due and pushes.claim_due(context) == []


def test_verify_tickets_are_renewed_on_their_rhythm(context: FakeContext, monkeypatch: pytest.MonkeyPatch) -> None:
    component = _component(context)
    _component(context, callback=None)  # no callback: no ticket pushes
    assert pushes.refresh_due_verify_tickets(context) == 1
    first = component.verify_ticket
    assert first and len(context.store.all(PushJob)) == 1
    (credential,) = context.store.all(Credential)
    assert credential.subject == component.appid and credential.token_hash != first  # stored hashed
    assert pushes.refresh_due_verify_tickets(context) == 0  # not due yet
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(context.settings.verify_ticket_interval_seconds)
    assert pushes.refresh_due_verify_tickets(context) == 1
    assert component.verify_ticket != first


# ---------------------------------------------------------------- mail (the outbox)


def _queue(context: FakeContext, to: str, *, commit: bool = True) -> None:
    with context.uow() as uow:
        pushes.queue_mail(context, uow, to, "activation", oa_name="号", email=to, url="http://t/activate/x", hours=48)
        if commit:
            uow.commit()


def test_mail_is_sent_once_and_only_when_its_transaction_commits(context: FakeContext) -> None:
    _queue(context, "gone@example.com", commit=False)
    _queue(context, "owner@example.com")
    assert context.mailer.delivered == []  # queued: the use case sends nothing itself
    assert pushes.send_due_mail(context) == 1
    assert [mail[0] for mail in context.mailer.delivered] == ["owner@example.com"]
    assert "http://t/activate/x" in context.mailer.delivered[0][2]
    assert pushes.send_due_mail(context) == 0


class DownMailer:
    def __init__(self) -> None:
        self.tries = 0

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        self.tries += 1
        raise ConnectionRefusedError("smtp down")


def test_mail_waits_with_backoff_while_smtp_is_down(context: FakeContext) -> None:
    working = context.mailer
    down = DownMailer()
    context.mailer = down  # type: ignore[assignment]
    _queue(context, "later@example.com")
    assert pushes.send_due_mail(context) == 1 and down.tries == 1
    (mail,) = context.store.all(OutgoingMail)
    assert mail.sent_at is None and mail.attempts == 1 and "smtp down" in (mail.last_error or "")
    assert pushes.send_due_mail(context) == 0  # not again before its backoff
    context.mailer = working
    mail.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
    assert pushes.send_due_mail(context) == 1
    assert [m[0] for m in working.sent] == ["later@example.com"] and mail.sent_at is not None


# ---------------------------------------------------------------- the sandbox


def test_the_sandbox_clock_takes_exactly_one_setting_and_moves_a_frozen_clock(context: FakeContext) -> None:
    with pytest.raises(sandbox.SandboxError) as refused:
        sandbox.set_clock(context, now=START, advance_seconds=60)
    assert refused.value.status == 422
    sandbox.set_clock(context, now=START)
    sandbox.set_clock(context, advance_seconds=90)
    with context.uow(readonly=True) as uow:
        clock, frozen = uow.sandbox_state.clock_setting(FixedClock(START))
    assert frozen and clock.now() == START + timedelta(seconds=90)
    sandbox.set_clock(context, real=True)
    with context.uow(readonly=True) as uow:
        assert uow.sandbox_state.clock_setting(FixedClock(START))[1] is False


def test_the_sandbox_outbox_lists_delivered_mail_by_recipient(context: FakeContext) -> None:
    for to in ("a@example.com", "b@example.com", "a@example.com"):
        context.store.add(MailMessage(to=to, subject=to, text="", html="", links=[], sent_at=START))
    assert [m["to"] for m in sandbox.outbox(context, " A@example.com ")] == ["a@example.com", "a@example.com"]
    assert len(sandbox.outbox(context)) == 3
