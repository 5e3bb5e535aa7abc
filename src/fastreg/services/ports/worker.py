"""Ports of the worker area: the component push queue, the mail outbox (transactional: a use case queues its
mail in its own transaction, the worker sends it after the commit), the sandbox's key/value state (injected
faults), and the templates that give a mail its words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastreg.domain.clock import Clock
from fastreg.domain.entities import (
    AuditEvent,
    Component,
    CredentialValues,
    Link,
    MailMessage,
    OutgoingMail,
    PushJob,
    Registration,
)
from fastreg.domain.faults import Fault


@dataclass(frozen=True)
class MailContent:
    subject: str
    text: str
    html: str


class MailTemplates(Protocol):
    def render(self, template: str, **params: object) -> MailContent:
        """The mail ``template`` says with ``params`` (autoescaped in its HTML part)."""
        ...


class DatabaseBusy(Exception):
    """The sandbox reset could not have the database to itself in time."""


@dataclass(frozen=True)
class SealedPush:
    """A push as the callback receives it: the query parameters and the encrypted XML body."""

    params: dict[str, str]
    body: str


class PushSealer(Protocol):
    def seal(self, component: Component, message: dict[str, Any], timestamp: int) -> SealedPush:
        """Encrypt and sign ``message`` for the component's callback, as WeChat does."""
        ...


@dataclass(frozen=True)
class DuePush:
    """A push claimed for one delivery attempt, with the component it goes to (None: it is gone)."""

    job: PushJob
    component: Component | None


class PushQueue(Protocol):
    def add(self, job: PushJob) -> None:
        """Queue a push in this transaction."""
        ...

    def any_due(self, now: datetime) -> bool: ...

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[DuePush]:
        """Lease up to ``limit`` due pushes until ``lease_until``, oldest first; a push another worker leased
        first is left out (a conditional update: each push is delivered once by all the workers)."""
        ...

    def record_attempt(
        self,
        job_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        delivered_at: datetime | None,
        last_error: str | None,
    ) -> None: ...

    def component(self, key: int | str) -> Component | None:
        """A push's component, by id or appid."""
        ...

    def components_due_for_ticket(self, issued_before: datetime) -> list[int]:
        """The components with a callback URL whose verify ticket was issued before ``issued_before`` (or
        never)."""
        ...

    def claim_ticket_renewal(self, component: Component, previous: datetime | None, ticket: str, now: datetime) -> bool:
        """Make ``ticket`` the component's ticket unless another worker renewed it since ``previous`` (a
        conditional update)."""
        ...

    def store_verify_ticket(self, component: Component, credential: CredentialValues, ticket: str) -> None:
        """Keep the ticket's credential (hashed) and make ``ticket`` the component's latest."""
        ...


class MailOutbox(Protocol):
    def queue(self, mail: OutgoingMail) -> None:
        """Queue a mail in this transaction: the worker sends it once the transaction has committed."""
        ...

    def any_due(self, now: datetime) -> bool: ...

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutgoingMail]:
        """Lease up to ``limit`` due mails until ``lease_until``, oldest first (a conditional update: each mail
        is sent once by all the workers)."""
        ...

    def record_attempt(
        self,
        mail_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        sent_at: datetime | None,
        last_error: str | None,
    ) -> None: ...

    def untried(self) -> int:
        """How many queued mails no worker has tried to send yet."""
        ...


class SandboxStateRepository(Protocol):
    def faults(self) -> list[Fault]:
        """Every injected fault, oldest first."""
        ...

    def add_fault(self, fault: Fault) -> None: ...

    def lock_fault(self, fault_id: str) -> Fault | None:
        """The fault, locked until the end of the transaction (concurrent takers wait), or None."""
        ...

    def save_fault(self, fault: Fault) -> None: ...

    def delete_fault(self, fault_id: str) -> bool: ...

    def delete_faults(self) -> int: ...

    # The sandbox clock (a setting every worker reads).
    def clock_setting(self, real: Clock) -> tuple[Clock, bool]:
        """The stored sandbox clock over ``real`` and whether it is frozen."""
        ...

    def freeze_clock(self, at: datetime) -> None: ...

    def advance_clock(self, real: Clock, seconds: float) -> None: ...

    def make_clock_real(self) -> None: ...

    # What the sandbox control API shows and sets directly.
    def pending_registration(self, oa_id: int) -> Registration | None: ...

    def current_link_of_mp(self, mp_id: int) -> tuple[Link, str] | None:
        """The MP's link (a live one first) and its OA's appid."""
        ...

    def audit_events(self, appid: str | None) -> list[AuditEvent]: ...

    def delivered_mail(self, to: str | None) -> list[MailMessage]:
        """Every email the SMTP sink received, oldest first."""
        ...

    def add_personal_wechat_email(self, email: str) -> None:
        """Mark the address as a personal WeChat's (kept once)."""
        ...

    def account_exists(self, appid: str) -> bool:
        """An OA or MP of that appid exists."""
        ...

    def value(self, key: str) -> dict[str, Any] | None: ...

    def set_value(self, key: str, value: dict[str, Any]) -> None: ...
