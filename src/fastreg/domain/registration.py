"""The registration aggregate: one fast registration, its state machine (``rules.md``) and the console wizard's
step it is at (``console.md``). Its sub-steps are decided here, never by a service reading its columns; the
repository (``uow.registrations``) loads and saves it whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from fastreg.domain.clock import as_utc
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import OPEN_STATUSES, Channel, ConfirmationStatus, RegistrationStatus
from fastreg.domain.rules import certification_locked, next_status

if TYPE_CHECKING:
    from fastreg.domain.entities import Confirmation

# The wizard's steps while a registration is open (3..7), and the success page once it completed.
SCAN_STEP, QUALIFICATIONS_STEP, ACCOUNT_STEP, ACTIVATION_STEP, ADMIN_STEP = 3, 4, 5, 6, 7
DONE_STEP = 8


@dataclass(eq=False, kw_only=True)
class RegistrationValues:
    """A registration's values, without its id or its behaviour: what the Open API channel writes, pending to
    completed in one transaction (never mapped, like ``entities.MiniProgramValues``)."""

    oa_id: int
    channel: str
    status: str
    reuse_certification: bool | None = None
    reuse_operator: bool = False
    operator_id: int | None = None
    component_id: int | None = None
    scan_confirmation_id: str | None = None
    admin_confirmation_id: str | None = None
    email: str | None = None
    password_hash: str | None = None
    mp_name: str | None = None
    email_activated_at: datetime | None = None
    activation_sent_at: datetime | None = None
    admin_wxid: str | None = None
    mp_id: int | None = None
    refusal_errcode: int | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class Registration(RegistrationValues):
    id: int = field(init=False)

    # ------------------------------------------------------------ reading

    @classmethod
    def start(cls, *, oa_id: int, operator_id: int, now: datetime) -> Registration:
        """Step 2: the operator agreed to the protocol; the registration is a draft."""
        return cls(
            oa_id=oa_id,
            channel=Channel.CONSOLE.value,
            status=RegistrationStatus.DRAFT.value,
            operator_id=operator_id,
            created_at=now,
            updated_at=now,
        )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def activated(self) -> bool:
        return self.email_activated_at is not None

    @property
    def qualifications_chosen(self) -> bool:
        return self.reuse_certification is not None

    @property
    def step(self) -> int:
        """Where the wizard resumes: 3 scan, 4 qualifications, 5 account info, 6 activation, 7 admin; 8 done."""
        if self.status == RegistrationStatus.DRAFT:
            return SCAN_STEP
        if self.status == RegistrationStatus.VERIFIED:
            return ACCOUNT_STEP if self.qualifications_chosen else QUALIFICATIONS_STEP
        if self.status == RegistrationStatus.PENDING:
            return ADMIN_STEP if self.activated else ACTIVATION_STEP
        return DONE_STEP

    def scan_valid(self, scan: Confirmation | None, admin_wxid: str) -> bool:
        """rules.md's 61058 at completion: the scan that verified the registration is its current one, was
        confirmed, and by the OA's admin (a scan by someone who is no longer the admin does not count)."""
        return (
            scan is not None
            and scan.id == self.scan_confirmation_id
            and scan.status == ConfirmationStatus.CONFIRMED
            and scan.allowed_wxid == admin_wxid
        )

    def is_stale(self, now: datetime, ttl_seconds: int) -> bool:
        """Open and untouched for longer than the pending time to live (7 days by default)."""
        return self.is_open and as_utc(now) - as_utc(self.updated_at) >= timedelta(seconds=ttl_seconds)

    # ------------------------------------------------------------ transitions

    def _at_step(self, step: int) -> None:
        if self.step != step:
            raise DomainError(Err.WRONG_STATE)

    def _move(self, event: str, now: datetime) -> None:
        self.status = next_status(self.status, event).value
        self.updated_at = now

    def ask_scan(self, confirmation_id: str, now: datetime) -> None:
        """Step 3: the QR code the OA admin scans (a new one replaces the last)."""
        self._at_step(SCAN_STEP)
        self.scan_confirmation_id = confirmation_id
        self.updated_at = now

    def confirm_scan(self, confirmation_id: str, now: datetime) -> None:
        """Step 3 → 4: the OA admin confirmed the registration's current QR code (draft → verified)."""
        if confirmation_id != self.scan_confirmation_id:
            raise DomainError(Err.CONFIRMATION_CLOSED)
        self._move("scan_confirmed", now)

    def choose_qualifications(
        self, *, reuse_certification: bool, reuse_operator: bool, principal_type: str, now: datetime
    ) -> None:
        """Step 4: 复用认证资质 is mandatory for government, media and other organisations (61056)."""
        if self.status != RegistrationStatus.VERIFIED:
            raise DomainError(Err.WRONG_STATE)
        if certification_locked(principal_type) and not reuse_certification:
            raise DomainError(Err.CERTIFICATION_REQUIRED, field="reuse_certification")
        self.reuse_certification = reuse_certification
        self.reuse_operator = reuse_operator
        self.updated_at = now

    def back(self) -> bool:
        """Step 5 → 4: choose the qualifications again; returns the certification choice made before."""
        self._at_step(ACCOUNT_STEP)
        chosen = bool(self.reuse_certification)
        self.reuse_certification = None
        return chosen

    def submit_account(self, *, email: str, password_hash: str, mp_name: str | None, now: datetime) -> None:
        """Step 5 → 6: the MP's account (its email reserved by the caller); the registration is pending."""
        self._at_step(ACCOUNT_STEP)
        self.email, self.password_hash, self.mp_name = email, password_hash, mp_name
        self._move("account_submitted", now)

    def ensure_mail_allowed(self, now: datetime, *, interval_seconds: int, field: str | None = None) -> None:
        """Step 6: at most one activation mail a minute, whether resent or sent to a changed address."""
        self._at_step(ACTIVATION_STEP)
        sent = self.activation_sent_at
        if sent is not None and as_utc(now) - as_utc(sent) < timedelta(seconds=interval_seconds):
            raise DomainError(Err.RESEND_TOO_SOON, field=field)

    def send_activation(self, now: datetime, *, interval_seconds: int, field: str | None = None) -> None:
        """Step 6: an activation mail (the first, a resent one or one to a changed address)."""
        self.ensure_mail_allowed(now, interval_seconds=interval_seconds, field=field)
        self.activation_sent_at = self.updated_at = now

    def change_email(self, email: str, now: datetime) -> str | None:
        """Step 6: another address (reserved by the caller); returns the one it replaces, to release."""
        self._at_step(ACTIVATION_STEP)
        previous, self.email, self.updated_at = self.email, email, now
        return previous

    def activate(self, now: datetime) -> None:
        """Step 6 → 7: the link in the activation mail was opened."""
        if self.status != RegistrationStatus.PENDING:
            raise DomainError(Err.ACTIVATION_INVALID)
        self.email_activated_at = self.updated_at = now

    def bind_admin(self, admin_wxid: str, confirmation_id: str, now: datetime) -> None:
        """Step 7: the chosen admin is asked to confirm on the phone page."""
        self._at_step(ADMIN_STEP)
        self.admin_wxid, self.admin_confirmation_id, self.updated_at = admin_wxid, confirmation_id, now

    def ensure_admin_confirmation(self, confirmation_id: str) -> None:
        """The admin answered the registration's current invitation (an earlier one is closed)."""
        if confirmation_id != self.admin_confirmation_id:
            raise DomainError(Err.CONFIRMATION_CLOSED)
        self._at_step(ADMIN_STEP)

    def complete(self, *, mp_id: int, admin_wxid: str, now: datetime) -> None:
        """Step 7 → done: activated and the admin bound; the MP exists (pending → completed)."""
        self.ensure_admin_confirmation(str(self.admin_confirmation_id))
        self._move("completed", now)
        self.mp_id, self.admin_wxid, self.completed_at = mp_id, admin_wxid, now

    def cancel(self, now: datetime) -> str | None:
        """The operator cancels before completion; returns the reserved email to release."""
        self._move("cancel", now)
        return self.email

    def expire(self, now: datetime, ttl_seconds: int) -> str | None:
        """An open registration past its time to live expires; returns the reserved email to release."""
        if not self.is_stale(now, ttl_seconds):
            raise DomainError(Err.WRONG_STATE)
        self._move("expire", now)
        return self.email
