"""SQLAlchemy 2 tables. Concurrency-sensitive rules are enforced here, in the database:
monthly counters updated conditionally, a partial unique index for the single pending registration,
single-use tickets and codes consumed by a conditional update, one identifier table for platform-wide
uniqueness of appids, original ids and login emails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always gives back an aware UTC datetime (SQLite would give a naive one)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Identifier(Base):
    """Every appid, original_id and login email on the platform, OAs, MPs and operators together."""

    __tablename__ = "identifiers"
    value: Mapped[str] = mapped_column(String(254), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))


class Principal(Base):
    __tablename__ = "principals"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    blacklisted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counted MPs owned by the principal, updated conditionally against the platform limit.
    mp_count: Mapped[int] = mapped_column(Integer, default=0)


class OfficialAccount(Base):
    __tablename__ = "official_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(18), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    original_id: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    verify_expires_at: Mapped[datetime | None]
    overseas: Mapped[bool] = mapped_column(Boolean, default=False)
    admin_wxid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Operator(Base):
    """A console login of an OA."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[int] = mapped_column(ForeignKey("official_accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    wxid: Mapped[str | None] = mapped_column(String(64))


class MiniProgram(Base):
    __tablename__ = "mini_programs"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(18), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    original_id: Mapped[str] = mapped_column(String(15), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    created_by_oa_id: Mapped[int | None] = mapped_column(ForeignKey("official_accounts.id"), index=True)
    admin_wxid: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    certified: Mapped[bool] = mapped_column(Boolean, default=False)
    certified_until: Mapped[datetime | None]
    created_via: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Registration(Base):
    __tablename__ = "registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[int] = mapped_column(ForeignKey("official_accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reuse_certification: Mapped[bool | None] = mapped_column(Boolean)
    reuse_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"))
    scan_confirmation_id: Mapped[str | None] = mapped_column(String(64))
    admin_confirmation_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    mp_name: Mapped[str | None] = mapped_column(String(200))
    email_activated_at: Mapped[datetime | None]
    activation_sent_at: Mapped[datetime | None]
    admin_wxid: Mapped[str | None] = mapped_column(String(64))
    mp_id: Mapped[int | None] = mapped_column(ForeignKey("mini_programs.id"))
    refusal_errcode: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        # One pending registration per OA (61057), enforced by the database.
        Index(
            "uq_registrations_one_pending",
            "oa_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )


class MonthlyCounter(Base):
    """Per-OA monthly counts (fast registrations, ordinary links), bumped by a conditional update."""

    __tablename__ = "monthly_counters"
    oa_id: Mapped[int] = mapped_column(ForeignKey("official_accounts.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "registration" | "link"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class Link(Base):
    __tablename__ = "links"
    id: Mapped[int] = mapped_column(primary_key=True)
    oa_id: Mapped[int] = mapped_column(ForeignKey("official_accounts.id"), index=True)
    mp_id: Mapped[int] = mapped_column(ForeignKey("mini_programs.id"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    linked_via: Mapped[str] = mapped_column(String(16))
    show_profile: Mapped[bool] = mapped_column(Boolean, default=False)
    notify_users: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    linked_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("oa_id", "mp_id"),)


class Component(Base):
    """A third-party platform of the Open Platform."""

    __tablename__ = "components"
    id: Mapped[int] = mapped_column(primary_key=True)
    appid: Mapped[str] = mapped_column(String(18), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_domain: Mapped[str] = mapped_column(String(253))
    callback_url: Mapped[str | None] = mapped_column(String(1000))
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    permission_sets: Mapped[list[Any]] = mapped_column(JSON)
    token: Mapped[str] = mapped_column(String(64))
    encoding_aes_key: Mapped[str] = mapped_column(String(43))
    verify_ticket: Mapped[str | None] = mapped_column(String(128))
    verify_ticket_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Authorization(Base):
    """An account (OA or MP) authorized to a component, with its refresh token."""

    __tablename__ = "authorizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id"), index=True)
    authorizer_appid: Mapped[str] = mapped_column(String(18), index=True)
    # The refresh token is derived from this random seed and the platform's secret key; every authorization
    # draws a new seed, so the earlier refresh token stops working.
    refresh_token_seed: Mapped[str] = mapped_column(String(64))
    # The digest of a refresh token issued before they were derived (accepted until the next authorization).
    refresh_token_hash: Mapped[str] = mapped_column(String(64))
    func_info: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    authorized_at: Mapped[datetime]  # the latest authorization (auth_time)

    __table_args__ = (UniqueConstraint("component_id", "authorizer_appid"),)


class Credential(Base):
    """Every bearer secret fastreg issues (access tokens, codes, tickets, activation links), stored hashed.
    ``used_at`` makes the single-use ones single-use by a conditional update."""

    __tablename__ = "credentials"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(254), index=True)  # appid, component appid or registration id
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Confirmation(Base):
    """An action a person approves on the phone page; only ``allowed_wxid`` may answer it."""

    __tablename__ = "confirmations"
    # The SHA-256 digest of the id in the phone URL (a bearer secret), which is derived from ``seed`` and the
    # platform's secret key: the database alone never shows it, yet the page that shows the QR can show it again.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seed: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    account_appid: Mapped[str] = mapped_column(String(18), index=True)
    allowed_wxid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class MailMessage(Base):
    """Every email as delivered to the SMTP server (the sandbox outbox)."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    links: Mapped[list[Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime]


class PersonalWechatEmail(Base):
    __tablename__ = "personal_wechat_emails"
    email: Mapped[str] = mapped_column(String(254), primary_key=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(254))
    oa_appid: Mapped[str | None] = mapped_column(String(18), index=True)
    mp_appid: Mapped[str | None] = mapped_column(String(18), index=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class WebSession(Base):
    """Console sessions live in the database so any worker can serve any request."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "operator" | "mp" | "phone"
    account_id: Mapped[int] = mapped_column(Integer)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class WechatUser(Base):
    """A WeChat user of production mode: the person behind a wxid, who logs in on the phone page to answer the
    confirmations waiting for that wxid. Created by an operator (``fastreg user create``) without a password;
    the person sets it through a one-time enrolment link."""

    __tablename__ = "wechat_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    wxid: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    enrolled_at: Mapped[datetime | None]


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # "operator" | "mp"
    email: Mapped[str] = mapped_column(String(254), index=True)
    at: Mapped[datetime]


class PushJob(Base):
    """A component push waiting for delivery; retried with backoff, never dropped silently."""

    __tablename__ = "push_jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id"), index=True)
    info_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class SandboxState(Base):
    """Small key/value settings of the sandbox (the clock)."""

    __tablename__ = "sandbox_state"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)


class VerificationTask(Base):
    """A 代认证 task (``wxa/sec/wxaauth``): the MP admin authorizes it, then a reviewer answers its order."""

    __tablename__ = "verification_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    taskid: Mapped[str] = mapped_column(String(64), unique=True)
    mp_id: Mapped[int] = mapped_column(ForeignKey("mini_programs.id"), index=True)
    # The component that submitted it (its callback hears of the task); None when the MP called itself.
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"))
    confirmation_id: Mapped[str] = mapped_column(String(64))  # the MP admin's, behind auth_url
    task_status: Mapped[int] = mapped_column(Integer)
    apply_status: Mapped[int] = mapped_column(Integer)
    orderid: Mapped[int] = mapped_column(Integer)
    auth_data: Mapped[dict[str, Any]] = mapped_column(JSON)
    fail_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]
