"""In-memory repositories of the worker area (``services/ports/worker.py``) for the service tests."""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from datetime import datetime, timedelta
from typing import Any

from fastreg.adapters.db.clock import CLOCK_KEY, clock_from_state
from fastreg.domain.clock import Clock, as_utc
from fastreg.domain.entities import (
    AuditEvent,
    Component,
    Credential,
    CredentialValues,
    Link,
    MailMessage,
    OfficialAccount,
    OutgoingMail,
    PersonalWechatEmail,
    PushJob,
    Registration,
    SandboxState,
)
from fastreg.domain.faults import Fault
from fastreg.services.ports.worker import DuePush
from tests.fakes.store import FakeStore, entity_of

FAULT_PREFIX = "fault:"


class FakePushQueue:
    def __init__(self, store: FakeStore, wake: Callable[[], None] = lambda: None) -> None:
        self._store, self._wake = store, wake

    def add(self, job: PushJob) -> None:
        self._store.add(job)
        self._wake()

    def _due(self, now: datetime) -> list[PushJob]:
        due = self._store.where(PushJob, lambda j: j.delivered_at is None and j.next_attempt_at <= now)
        return sorted(due, key=lambda j: (j.next_attempt_at, j.id))

    def any_due(self, now: datetime) -> bool:
        return bool(self._due(now))

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[DuePush]:
        claimed = []
        for job in self._due(now)[:limit]:
            job.next_attempt_at = lease_until
            claimed.append(DuePush(copy(job), self.component(job.component_id)))
        return claimed

    def record_attempt(
        self,
        job_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        delivered_at: datetime | None,
        last_error: str | None,
    ) -> None:
        job = self._store.first(PushJob, lambda j: j.id == job_id)
        if job is not None:
            job.attempts, job.next_attempt_at, job.delivered_at, job.last_error = (
                attempts,
                next_attempt_at,
                delivered_at,
                last_error,
            )

    def component(self, key: int | str) -> Component | None:
        return self._store.first(Component, lambda c: (c.id if isinstance(key, int) else c.appid) == key)

    def components_due_for_ticket(self, issued_before: datetime) -> list[int]:
        return [
            c.id
            for c in self._store.all(Component)
            if c.callback_url and (c.verify_ticket_at is None or c.verify_ticket_at <= issued_before)
        ]

    def claim_ticket_renewal(self, component: Component, previous: datetime | None, ticket: str, now: datetime) -> bool:
        if component.verify_ticket_at != previous:
            return False
        component.verify_ticket, component.verify_ticket_at = ticket, now
        return True

    def store_verify_ticket(self, component: Component, credential: CredentialValues, ticket: str) -> None:
        self._store.add(entity_of(Credential, credential))
        component.verify_ticket, component.verify_ticket_at = ticket, credential.issued_at


class FakeMailOutbox:
    def __init__(self, store: FakeStore, wake: Callable[[], None] = lambda: None) -> None:
        self._store, self._wake = store, wake

    def queue(self, mail: OutgoingMail) -> None:
        self._store.add(mail)
        self._wake()

    def _due(self, now: datetime) -> list[OutgoingMail]:
        due = self._store.where(OutgoingMail, lambda m: m.sent_at is None and m.next_attempt_at <= now)
        return sorted(due, key=lambda m: (m.next_attempt_at, m.id))

    def any_due(self, now: datetime) -> bool:
        return bool(self._due(now))

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutgoingMail]:
        claimed = []
        for mail in self._due(now)[:limit]:
            mail.next_attempt_at = lease_until
            claimed.append(copy(mail))
        return claimed

    def record_attempt(
        self,
        mail_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        sent_at: datetime | None,
        last_error: str | None,
    ) -> None:
        mail = self._store.first(OutgoingMail, lambda m: m.id == mail_id)
        if mail is not None:
            mail.attempts, mail.next_attempt_at, mail.sent_at, mail.last_error = (
                attempts,
                next_attempt_at,
                sent_at,
                last_error,
            )

    def untried(self) -> int:
        return sum(1 for m in self._store.all(OutgoingMail) if m.sent_at is None and m.attempts == 0)


class FakeSandboxStateRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def _row(self, fault_id: str) -> SandboxState | None:
        return self._store.first(SandboxState, lambda s: s.key == FAULT_PREFIX + fault_id)

    def faults(self) -> list[Fault]:
        found = [
            Fault.from_state(s.key.removeprefix(FAULT_PREFIX), dict(s.value))
            for s in self._store.all(SandboxState)
            if s.key.startswith(FAULT_PREFIX)
        ]
        return sorted(found, key=lambda f: (f.order, f.id))

    def add_fault(self, fault: Fault) -> None:
        self._store.add(SandboxState(key=FAULT_PREFIX + fault.id, value=fault.state()))

    def lock_fault(self, fault_id: str) -> Fault | None:
        row = self._row(fault_id)
        return None if row is None else Fault.from_state(fault_id, dict(row.value))

    def save_fault(self, fault: Fault) -> None:
        row = self._row(fault.id)
        if row is not None:
            row.value = fault.state()

    def delete_fault(self, fault_id: str) -> bool:
        row = self._row(fault_id)
        if row is None:
            return False
        self._store.remove(row)
        return True

    def delete_faults(self) -> int:
        rows = [s for s in self._store.all(SandboxState) if s.key.startswith(FAULT_PREFIX)]
        for row in rows:
            self._store.remove(row)
        return len(rows)

    # ---------------------------------------------------------------- the sandbox clock

    def _clock_row(self) -> SandboxState | None:
        return self._store.first(SandboxState, lambda s: s.key == CLOCK_KEY)

    def clock_setting(self, real: Clock) -> tuple[Clock, bool]:
        row = self._clock_row()
        return clock_from_state(row.value if row else None, real)

    def _store_clock(self, value: dict[str, Any]) -> None:
        row = self._clock_row()
        if row is None:
            self._store.add(SandboxState(key=CLOCK_KEY, value=value))
        else:
            row.value = value

    def freeze_clock(self, at: datetime) -> None:
        self._store_clock({"frozen_at": as_utc(at).isoformat()})

    def advance_clock(self, real: Clock, seconds: float) -> None:
        clock, frozen = self.clock_setting(real)
        if frozen:
            self.freeze_clock(clock.now() + timedelta(seconds=seconds))
        else:
            row = self._clock_row()
            offset = float((row.value if row else {}).get("offset_seconds", 0))
            self._store_clock({"offset_seconds": offset + seconds})

    def make_clock_real(self) -> None:
        self._store_clock({})

    # ---------------------------------------------------------------- what the control API shows and sets

    def pending_registration(self, oa_id: int) -> Registration | None:
        return self._store.first(Registration, lambda r: r.oa_id == oa_id and r.status == "pending")

    def current_link_of_mp(self, mp_id: int) -> tuple[Link, str] | None:
        links = sorted(
            self._store.where(Link, lambda link: link.mp_id == mp_id),
            key=lambda link: (link.status != "linked", link.id),
        )
        if not links:
            return None
        oa = self._store.first(OfficialAccount, lambda account: account.id == links[0].oa_id)
        return links[0], oa.appid if oa else ""

    def audit_events(self, appid: str | None) -> list[AuditEvent]:
        events = self._store.all(AuditEvent)
        if appid:
            events = [e for e in events if appid in (e.oa_appid, e.mp_appid)]
        return sorted(events, key=lambda e: e.id)

    def delivered_mail(self, to: str | None) -> list[MailMessage]:
        return sorted(self._store.where(MailMessage, lambda m: to is None or m.to == to), key=lambda m: m.id)

    def add_personal_wechat_email(self, email: str) -> None:
        if self._store.first(PersonalWechatEmail, lambda e: e.email == email) is None:
            self._store.add(PersonalWechatEmail(email=email))

    def account_exists(self, appid: str) -> bool:
        return self.official_account(appid) is not None or self.mini_program(appid) is not None

    def value(self, key: str) -> dict[str, Any] | None:
        state = self._store.first(SandboxState, lambda row: row.key == key)
        return None if state is None else state.value

    def set_value(self, key: str, value: dict[str, Any]) -> None:
        state = self._store.first(SandboxState, lambda row: row.key == key)
        if state is None:
            self._store.add(SandboxState(key=key, value=value))
        else:
            state.value = value
