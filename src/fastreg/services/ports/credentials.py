"""Ports of the credentials area: the bearer secrets' repository, and the gateway of the hot path
(``POST /cgi-bin/account/fastregister``) whose methods are its round trips: open with the token, claim the
ticket along with the eligibility facts and the quota, write the completion with the commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastreg.domain.entities import (
    AuditEventValues,
    AuthorizationValues,
    CredentialValues,
    MiniProgramValues,
    RegistrationValues,
)
from fastreg.domain.model import OfficialAccountFacts
from fastreg.domain.rules import EligibilityFacts, QuotaLimits
from fastreg.domain.versions import PlatformVersion


class CredentialRepository(Protocol):
    """Bearer secrets by the digest they are stored under (``domain.secrets.token_hash``)."""

    def add(self, credential: CredentialValues, /) -> None: ...

    def credential(self, token_hash: str) -> CredentialValues | None:
        """The secret stored under ``token_hash``; the transaction's clock is read along with it (one round
        trip for an API call's first statements)."""
        ...

    def use(self, credential: CredentialValues, now: datetime) -> bool:
        """Mark a single-use secret used if nobody has (a conditional update); False when a concurrent caller
        used it first."""
        ...

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        """Mark used every unused secret of ``kind`` issued for ``subject``."""
        ...

    def token_subject(self, token_hash: str) -> str | None:
        """The subject (an appid) of the token with this digest, whatever its state; None when unknown."""
        ...


@dataclass(frozen=True)
class FastRegisterContext:
    """The OA, the component acting for it and what the OA authorized it to do (read in one round trip)."""

    id: int
    appid: str
    name: str
    principal_id: int
    verified: bool
    verify_expires_at: datetime | None
    overseas: bool
    admin_wxid: str
    principal_type: str  # sets the OA's monthly quota, spent in the ticket's round trip
    component_id: int
    component_appid: str
    published: bool
    permission_sets: list[int]
    redirect_domain: str
    authorized_func_info: list[int] | None


@dataclass(frozen=True)
class OpenedToken:
    """An access token and what it acts for: ``context`` when it is held by a component for an OA (an
    authorizer token); ``for_oa`` whether its subject is an OA at all."""

    credential: CredentialValues | None
    for_oa: bool = False
    context: FastRegisterContext | None = None


@dataclass(frozen=True)
class TicketClaim:
    """A single-use ticket to spend: by its digest, issued for ``subject`` through ``component_id``."""

    token_hash: str
    kind: str
    subject: str
    component_id: int


class EligibleAccount(OfficialAccountFacts, Protocol):
    """The OA as eligibility and completion read it (its entity, or the hot path's context)."""

    @property
    def id(self) -> int: ...
    @property
    def appid(self) -> str: ...
    @property
    def principal_id(self) -> int: ...


@dataclass(frozen=True)
class FactsQuery:
    """What eligibility is read for: the OA's month, pending registrations updated since ``stale_before``
    (``ignore_registration_id`` is the one being completed), and the version in force when ``sandbox``."""

    oa: EligibleAccount
    now: datetime
    month: str
    stale_before: datetime
    limits: QuotaLimits
    sandbox: bool
    ignore_registration_id: int | None = None


@dataclass(frozen=True)
class Facts:
    """The OA's eligibility facts and the platform version stored for the sandbox (None: the configured one)."""

    eligibility: EligibilityFacts
    stored_version: PlatformVersion | None


@dataclass(frozen=True)
class QuotaSpend:
    """What a completion spends: the OA's month under ``monthly_limit``, its principal's MP count under
    ``principal_limit``."""

    oa_id: int
    principal_id: int
    month: str
    monthly_limit: int
    principal_limit: int


@dataclass(frozen=True)
class Spent:
    """Whether each conditional count went through (False: its limit was reached; the transaction must then be
    rolled back)."""

    counted: bool
    principal_counted: bool


@dataclass(frozen=True)
class ClaimAndFacts:
    """The claimed ticket's data (None: unknown, expired, used or someone else's), the facts, and the quota
    spent after they were read."""

    claimed: dict[str, Any] | None
    facts: Facts
    spent: Spent


@dataclass(frozen=True)
class NewLink:
    """The new MP's link to the OA that registered it (written with the MP, which gives it its id)."""

    status: str
    linked_via: str
    show_profile: bool
    notify_users: bool
    created_at: datetime
    linked_at: datetime | None


@dataclass(frozen=True)
class CompletionWrite:
    """Every write of a completion once its quota is spent: the identifiers and the new MP, its link, the Open
    API channel's registration, the audit events, and for the Open API the authorization and its code."""

    oa_id: int
    mini_program: MiniProgramValues
    link: NewLink
    registration: RegistrationValues | None
    audit: list[AuditEventValues]
    authorization: AuthorizationValues | None = None
    authorization_code: CredentialValues | None = None


class CompletionWritten(Protocol):
    @property
    def mp_id(self) -> int:
        """The new MP's id (read from the database when first asked: the writes may not have been sent yet)."""
        ...


class FastRegisterGateway(Protocol):
    """The hot path's round trips (one each on PostgreSQL; the completion's writes go with the COMMIT's)."""

    def open_with_token(self, token_hash: str) -> OpenedToken:
        """The access token and the OA and component it acts for (the transaction's clock read along)."""
        ...

    def context(self, oa_appid: str, component_id: int) -> FastRegisterContext | None:
        """The OA and the component by their ids (None: no such OA; the component must exist)."""
        ...

    def claim_and_facts(self, claim: TicketClaim, query: FactsQuery, spend: QuotaSpend) -> ClaimAndFacts:
        """Spend the ticket if it is usable (a conditional update: a concurrent claim waits for the row and
        then finds it used; rolled back with the transaction), read the eligibility facts, then spend the quota
        as ``spend`` does."""
        ...

    def facts(self, query: FactsQuery) -> Facts: ...

    def spend(self, spend: QuotaSpend) -> Spent:
        """Count the completion in the OA's month and in its principal's MPs, each only below its limit (a
        conditional statement: concurrent completions never exceed a limit whatever was read before)."""
        ...

    def write_completion(self, write: CompletionWrite) -> CompletionWritten:
        """Every write at once, sent with the commit (or when the new MP's id is asked for)."""
        ...
