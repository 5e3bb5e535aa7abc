"""The platform's entities as plain classes: what the services load, change and save through the unit of work's
repositories. The database adapter maps them onto its tables (``adapters/db/models.py``); nothing here knows
of it. An ``id`` is given by the repository that adds the entity.

A few entities have their values as a base class of their own (``MiniProgramValues``, ``AuthorizationValues``,
``CredentialValues``, ``AuditEventValues``, ``registration.RegistrationValues``): the database adapter maps the
entity, not its base, so a base is built as any dataclass is, without the attribute bookkeeping a mapped class's
construction costs (a fast registration built seven such entities: about a sixth of its CPU)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The registration is an aggregate with its own module (its state machine and wizard step).
from fastreg.domain.registration import Registration as Registration
from fastreg.domain.registration import RegistrationValues as RegistrationValues


@dataclass(eq=False, kw_only=True)
class Identifier:
    """Every appid, original_id and login email on the platform, OAs, MPs and operators together."""

    value: str
    kind: str


@dataclass(eq=False, kw_only=True)
class Principal:
    id: int = field(init=False)
    name: str
    type: str
    blacklisted: bool = False
    # Counted MPs owned by the principal, updated conditionally against the platform limit.
    mp_count: int = 0


@dataclass(eq=False, kw_only=True)
class OfficialAccount:
    id: int = field(init=False)
    appid: str
    secret_hash: str
    original_id: str
    name: str
    principal_id: int
    verified: bool = True
    verify_expires_at: datetime | None = None
    overseas: bool = False
    admin_wxid: str
    created_at: datetime


@dataclass(eq=False, kw_only=True)
class Operator:
    """A console login of an OA."""

    id: int = field(init=False)
    oa_id: int
    email: str
    password_hash: str
    wxid: str | None = None


@dataclass(eq=False, kw_only=True)
class MiniProgramValues:
    """An MP's values without its id: what a new MP is written with (the fast registration's gateway writes it
    by statement, never through an ORM session)."""

    appid: str
    secret_hash: str
    original_id: str
    name: str | None = None
    principal_id: int
    created_by_oa_id: int | None = None
    admin_wxid: str | None = None
    email: str | None = None
    password_hash: str | None = None
    active: bool = False
    certified: bool = False
    certified_until: datetime | None = None
    created_via: str
    status: str
    created_at: datetime
    completed_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class MiniProgram(MiniProgramValues):
    id: int = field(init=False)


@dataclass(eq=False, kw_only=True)
class MonthlyCounter:
    """Per-OA monthly counts (fast registrations, ordinary links), bumped by a conditional update."""

    oa_id: int
    # "registration" | "link"
    kind: str
    month: str
    used: int = 0


@dataclass(eq=False, kw_only=True)
class Link:
    id: int = field(init=False)
    oa_id: int
    mp_id: int
    status: str
    linked_via: str
    show_profile: bool = False
    notify_users: bool = False
    created_at: datetime
    linked_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class Component:
    """A third-party platform of the Open Platform."""

    id: int = field(init=False)
    appid: str
    secret_hash: str
    name: str
    redirect_domain: str
    callback_url: str | None = None
    published: bool = True
    permission_sets: list[Any]
    token: str
    encoding_aes_key: str
    verify_ticket: str | None = None
    verify_ticket_at: datetime | None = None
    created_at: datetime


@dataclass(eq=False, kw_only=True)
class AuthorizationValues:
    """An authorization's values, without its id (what a new one is written with; never mapped)."""

    component_id: int
    authorizer_appid: str
    # The refresh token is derived from this random seed and the platform's secret key; every authorization
    # draws a new seed, so the earlier refresh token stops working.
    refresh_token_seed: str
    # The digest of a refresh token issued before they were derived (accepted until the next authorization).
    refresh_token_hash: str
    func_info: list[Any]
    created_at: datetime
    # the latest authorization (auth_time)
    authorized_at: datetime


@dataclass(eq=False, kw_only=True)
class Authorization(AuthorizationValues):
    """An account (OA or MP) authorized to a component, with its refresh token."""

    id: int = field(init=False)


@dataclass(eq=False, kw_only=True)
class CredentialValues:
    """Every bearer secret fastreg issues (access tokens, codes, tickets, activation links), stored hashed.
    ``used_at`` makes the single-use ones single-use by a conditional update. The repositories write and read
    these values by statement (no ORM session holds a credential)."""

    token_hash: str
    kind: str
    # appid, component appid or registration id
    subject: str
    component_id: int | None = None
    data: dict[str, Any] | None = None
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class Credential(CredentialValues):
    """The mapped entity (its table's mapping; the services work with ``CredentialValues``)."""


@dataclass(eq=False, kw_only=True)
class Confirmation:
    """An action a person approves on the phone page; only ``allowed_wxid`` may answer it."""

    # The SHA-256 digest of the id in the phone URL (a bearer secret), which is derived from ``seed`` and the
    # platform's secret key: the database alone never shows it, yet the page that shows the QR can show it again.
    id: str
    seed: str | None = None
    kind: str
    account_appid: str
    allowed_wxid: str
    status: str
    payload: dict[str, Any]
    result: dict[str, Any] | None = None
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class MailMessage:
    """Every email as delivered to the SMTP server (the sandbox outbox)."""

    id: int = field(init=False)
    to: str
    subject: str
    text: str
    html: str
    links: list[Any]
    sent_at: datetime


@dataclass(eq=False, kw_only=True)
class PersonalWechatEmail:
    email: str


@dataclass(eq=False, kw_only=True)
class AuditEventValues:
    """An audit event's values, without its id: what is written (by statement; never mapped)."""

    at: datetime
    kind: str
    actor: str
    oa_appid: str | None = None
    mp_appid: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(eq=False, kw_only=True)
class AuditEvent(AuditEventValues):
    id: int = field(init=False)


@dataclass(eq=False, kw_only=True)
class WebSession:
    """Console sessions live in the database so any worker can serve any request."""

    id_hash: str
    # "operator" | "mp" | "phone"
    kind: str
    account_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime


@dataclass(eq=False, kw_only=True)
class WechatUser:
    """A WeChat user of production mode: the person behind a wxid, who logs in on the phone page to answer the
    confirmations waiting for that wxid. Created by an operator (``fastreg user create``) without a password;
    the person sets it through a one-time enrolment link."""

    id: int = field(init=False)
    wxid: str
    password_hash: str | None = None
    created_at: datetime
    enrolled_at: datetime | None = None


@dataclass(eq=False, kw_only=True)
class LoginFailure:
    id: int = field(init=False)
    # "operator" | "mp"
    scope: str
    email: str
    at: datetime


@dataclass(eq=False, kw_only=True)
class PushJob:
    """A component push waiting for delivery; retried with backoff, never dropped silently."""

    id: int = field(init=False)
    component_id: int
    info_type: str
    payload: dict[str, Any]
    attempts: int = 0
    next_attempt_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime


@dataclass(eq=False, kw_only=True)
class SandboxState:
    """Small key/value settings of the sandbox (the clock)."""

    key: str
    value: dict[str, Any]


@dataclass(eq=False, kw_only=True)
class VerificationTask:
    """A 代认证 task (``wxa/sec/wxaauth``): the MP admin authorizes it, then a reviewer answers its order."""

    id: int = field(init=False)
    taskid: str
    mp_id: int
    # The component that submitted it (its callback hears of the task); None when the MP called itself.
    component_id: int | None = None
    # the MP admin's, behind auth_url
    confirmation_id: str
    task_status: int
    apply_status: int
    orderid: int
    auth_data: dict[str, Any]
    fail_reason: str | None = None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime


@dataclass(eq=False, kw_only=True)
class OutgoingMail:
    """An email queued in the transaction of the change it announces (the transactional outbox): the worker
    sends it through the SMTP mailer once that transaction has committed, retrying with backoff until the SMTP
    server takes it."""

    id: int = field(init=False)
    to: str
    subject: str
    text: str
    html: str
    attempts: int = 0
    next_attempt_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime
