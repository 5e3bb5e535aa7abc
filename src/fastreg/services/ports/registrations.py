"""Ports of the registrations area: the repository protocols its services use."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from fastreg.domain.entities import Confirmation, OfficialAccount, Registration
from fastreg.domain.model import ConfirmationKind
from fastreg.domain.rules import EligibilityFacts, QuotaLimits

# The monthly counters' kinds.
REGISTRATION = "registration"
LINK = "link"


class RegistrationRepository(Protocol):
    def add(self, registration: Registration) -> Registration:
        """Store a new registration (it gets its id)."""
        ...

    def get(self, registration_id: int) -> Registration | None: ...

    def open_for(self, oa_id: int, channel: str) -> Registration | None:
        """The OA's latest open (draft, verified or pending) registration of that channel."""
        ...

    def stale_for(self, oa_id: int, untouched_since: datetime) -> list[Registration]:
        """The OA's open registrations not changed since ``untouched_since`` (candidates for expiry)."""
        ...

    def save(self, registration: Registration) -> None:
        """Write the registration's changes now. A second pending registration of its OA is refused (61057) by
        the database, whatever the caller saw before."""
        ...

    def eligibility(
        self,
        oa: OfficialAccount,
        *,
        now: datetime,
        month: str,
        limits: QuotaLimits,
        pending_since: datetime,
        ignore_registration_id: int | None = None,
    ) -> EligibilityFacts:
        """What the eligibility rules read about ``oa``, in one query: its principal, the principal's MPs, the
        month's completions, and whether a registration changed after ``pending_since`` is pending (other than
        ``ignore_registration_id``, the one being completed)."""
        ...

    def pending_with_email(self, email: str) -> Registration | None:
        """The latest pending registration that gave ``email`` for its MP."""
        ...

    def oas_with_stale_open(self, untouched_since: datetime) -> list[int]:
        """The OAs with an open registration not updated since ``untouched_since`` (the worker's sweep)."""
        ...


class ConfirmationRepository(Protocol):
    def add(self, confirmation: Confirmation) -> None: ...

    def get(self, digest: str) -> Confirmation | None:
        """The confirmation by its stored id (the digest of the public id in its URL)."""
        ...

    def claim(self, confirmation: Confirmation, status: str, now: datetime) -> bool:
        """Answer a pending confirmation; False when a concurrent answer came first (one conditional update)."""
        ...

    def close(self, confirmation: Confirmation, now: datetime) -> None:
        """Cancel a pending confirmation nobody answered (replaced by another)."""
        ...

    def for_wxid(self, wxid: str) -> list[Confirmation]:
        """The confirmations that ``wxid`` may answer, oldest first."""
        ...

    def account_name(self, appid: str) -> str | None:
        """The name of the OA, MP or component with that appid, for the phone page."""
        ...

    def pending(self, kind: ConfirmationKind, account_appid: str, now: datetime) -> list[Confirmation]:
        """The account's confirmations of this kind still waiting for an answer (not expired at ``now``)."""
        ...


class CounterRepository(Protocol):
    def used(self, oa_id: int, kind: str, month: str) -> int: ...

    def try_increment(self, oa_id: int, kind: str, month: str, limit: int) -> bool:
        """Count one more for the month if that stays within ``limit`` (atomic in the database); False when
        the limit is reached."""
        ...

    def links_used(self, oa_id: int, month: str) -> int:
        """The OA's ordinary links counted in the month."""
        ...

    def try_count_link(self, oa_id: int, month: str, limit: int) -> bool:
        """Count one more link for the month if that stays within ``limit`` (atomic); False when reached."""
        ...
