"""SQLAlchemy 2 tables, and the imperative mapping of the domain's entities (``domain/entities.py``) onto
them. Concurrency-sensitive rules are enforced here, in the database: monthly counters updated conditionally,
a partial unique index for the single pending registration, single-use tickets and codes consumed by a
conditional update, one identifier table for platform-wide uniqueness of appids, original ids and login
emails."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry

from fastreg.domain.entities import (
    AuditEvent,
    Authorization,
    Component,
    Confirmation,
    Credential,
    Identifier,
    Link,
    LoginFailure,
    MailMessage,
    MiniProgram,
    MonthlyCounter,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
    PushJob,
    Registration,
    SandboxState,
    VerificationTask,
    WebSession,
    WechatUser,
)

__all__ = [
    "AuditEvent",
    "Authorization",
    "Component",
    "Confirmation",
    "Credential",
    "Identifier",
    "Link",
    "LoginFailure",
    "MailMessage",
    "MiniProgram",
    "MonthlyCounter",
    "OfficialAccount",
    "Operator",
    "PersonalWechatEmail",
    "Principal",
    "PushJob",
    "Registration",
    "SandboxState",
    "VerificationTask",
    "WebSession",
    "WechatUser",
    "metadata",
    "table_of",
]

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

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: UTC and SQLAlchemy's stored text ('2026-11-28 23:30:00.000000') in one step, which every
        # statement of the hot path runs a dozen times (a third of the time of the two processors chained).
        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ", "microseconds")

        return to_text


metadata = MetaData(naming_convention=NAMING)

identifiers = Table(
    "identifiers",
    metadata,
    Column("value", String(254), primary_key=True),
    Column("kind", String(16), nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), unique=True, nullable=False),
    Column("type", String(32), nullable=False),
    Column("blacklisted", Boolean, default=False, nullable=False),
    # Counted MPs owned by the principal, updated conditionally against the platform limit.
    Column("mp_count", Integer, default=0, nullable=False),
)

official_accounts = Table(
    "official_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("appid", String(18), unique=True, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("original_id", String(15), unique=True, nullable=False),
    Column("name", String(200), nullable=False),
    Column("principal_id", Integer, ForeignKey("principals.id"), index=True, nullable=False),
    Column("verified", Boolean, default=True, nullable=False),
    Column("verify_expires_at", UTCDateTime, nullable=True),
    Column("overseas", Boolean, default=False, nullable=False),
    Column("admin_wxid", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("oa_id", Integer, ForeignKey("official_accounts.id"), index=True, nullable=False),
    Column("email", String(254), unique=True, nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("wxid", String(64), nullable=True),
)

mini_programs = Table(
    "mini_programs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("appid", String(18), unique=True, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("original_id", String(15), unique=True, nullable=False),
    Column("name", String(200), nullable=True),
    Column("principal_id", Integer, ForeignKey("principals.id"), index=True, nullable=False),
    Column("created_by_oa_id", Integer, ForeignKey("official_accounts.id"), index=True, nullable=True),
    Column("admin_wxid", String(64), nullable=True),
    Column("email", String(254), unique=True, nullable=True),
    Column("password_hash", String(200), nullable=True),
    Column("active", Boolean, default=False, nullable=False),
    Column("certified", Boolean, default=False, nullable=False),
    Column("certified_until", UTCDateTime, nullable=True),
    Column("created_via", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("oa_id", Integer, ForeignKey("official_accounts.id"), index=True, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reuse_certification", Boolean, nullable=True),
    Column("reuse_operator", Boolean, default=False, nullable=False),
    Column("operator_id", Integer, ForeignKey("operators.id"), nullable=True),
    Column("component_id", Integer, ForeignKey("components.id"), nullable=True),
    Column("scan_confirmation_id", String(64), nullable=True),
    Column("admin_confirmation_id", String(64), nullable=True),
    Column("email", String(254), nullable=True),
    Column("password_hash", String(200), nullable=True),
    Column("mp_name", String(200), nullable=True),
    Column("email_activated_at", UTCDateTime, nullable=True),
    Column("activation_sent_at", UTCDateTime, nullable=True),
    Column("admin_wxid", String(64), nullable=True),
    Column("mp_id", Integer, ForeignKey("mini_programs.id"), nullable=True),
    Column("refusal_errcode", Integer, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    # One pending registration per OA (61057), enforced by the database.
    Index(
        "uq_registrations_one_pending",
        "oa_id",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)

monthly_counters = Table(
    "monthly_counters",
    metadata,
    Column("oa_id", Integer, ForeignKey("official_accounts.id"), primary_key=True),
    # "registration" | "link"
    Column("kind", String(16), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("used", Integer, default=0, nullable=False),
)

links = Table(
    "links",
    metadata,
    Column("id", Integer, primary_key=True),
    # oa_id: looked up through the unique (oa_id, mp_id) index, which starts with it
    Column("oa_id", Integer, ForeignKey("official_accounts.id"), nullable=False),
    Column("mp_id", Integer, ForeignKey("mini_programs.id"), index=True, nullable=False),
    Column("status", String(24), nullable=False),
    Column("linked_via", String(16), nullable=False),
    Column("show_profile", Boolean, default=False, nullable=False),
    Column("notify_users", Boolean, default=False, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("linked_at", UTCDateTime, nullable=True),
    UniqueConstraint("oa_id", "mp_id"),
)

components = Table(
    "components",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("appid", String(18), unique=True, nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("redirect_domain", String(253), nullable=False),
    Column("callback_url", String(1000), nullable=True),
    Column("published", Boolean, default=True, nullable=False),
    Column("permission_sets", JSON, nullable=False),
    Column("token", String(64), nullable=False),
    Column("encoding_aes_key", String(43), nullable=False),
    Column("verify_ticket", String(128), nullable=True),
    Column("verify_ticket_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

authorizations = Table(
    "authorizations",
    metadata,
    Column("id", Integer, primary_key=True),
    # component_id: looked up through the unique (component_id, authorizer_appid) index, which starts with it
    Column("component_id", Integer, ForeignKey("components.id"), nullable=False),
    Column("authorizer_appid", String(18), index=True, nullable=False),
    # The refresh token is derived from this random seed and the platform's secret key; every authorization
    # draws a new seed, so the earlier refresh token stops working.
    Column("refresh_token_seed", String(64), nullable=False),
    # The digest of a refresh token issued before they were derived (accepted until the next authorization).
    Column("refresh_token_hash", String(64), nullable=False),
    Column("func_info", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # the latest authorization (auth_time)
    Column("authorized_at", UTCDateTime, nullable=False),
    UniqueConstraint("component_id", "authorizer_appid"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(24), nullable=False),
    # appid, component appid or registration id
    Column("subject", String(254), index=True, nullable=False),
    Column("component_id", Integer, ForeignKey("components.id"), nullable=True),
    Column("data", JSON, nullable=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

confirmations = Table(
    "confirmations",
    metadata,
    # The SHA-256 digest of the id in the phone URL (a bearer secret), which is derived from ``seed`` and the
    # platform's secret key: the database alone never shows it, yet the page that shows the QR can show it again.
    Column("id", String(64), primary_key=True),
    Column("seed", String(32), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("account_appid", String(18), index=True, nullable=False),
    Column("allowed_wxid", String(64), index=True, nullable=False),
    Column("status", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("result", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
)

mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("to", String(254), index=True, nullable=False),
    Column("subject", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("links", JSON, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
)

personal_wechat_emails = Table(
    "personal_wechat_emails",
    metadata,
    Column("email", String(254), primary_key=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("oa_appid", String(18), index=True, nullable=True),
    Column("mp_appid", String(18), index=True, nullable=True),
    Column("detail", JSON, nullable=True),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    # "operator" | "mp" | "phone"
    Column("kind", String(8), nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

wechat_users = Table(
    "wechat_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("wxid", String(64), unique=True, nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enrolled_at", UTCDateTime, nullable=True),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    # "operator" | "mp"
    Column("scope", String(8), nullable=False),
    Column("email", String(254), index=True, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

push_jobs = Table(
    "push_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("component_id", Integer, ForeignKey("components.id"), index=True, nullable=False),
    Column("info_type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    Column("next_attempt_at", UTCDateTime, index=True, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

sandbox_state = Table(
    "sandbox_state",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", JSON, nullable=False),
)

verification_tasks = Table(
    "verification_tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("taskid", String(64), unique=True, nullable=False),
    Column("mp_id", Integer, ForeignKey("mini_programs.id"), index=True, nullable=False),
    # The component that submitted it (its callback hears of the task); None when the MP called itself.
    Column("component_id", Integer, ForeignKey("components.id"), nullable=True),
    # the MP admin's, behind auth_url
    Column("confirmation_id", String(64), nullable=False),
    Column("task_status", Integer, nullable=False),
    Column("apply_status", Integer, nullable=False),
    Column("orderid", Integer, nullable=False),
    Column("auth_data", JSON, nullable=False),
    Column("fail_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


# Entity → table. Mapped once, when this module is first imported: the entities stay plain classes to the domain
# and the services, and become SQLAlchemy-instrumented only for the repositories that load and save them.
_MAPPED: tuple[tuple[type[Any], Table], ...] = (
    (Identifier, identifiers),
    (Principal, principals),
    (OfficialAccount, official_accounts),
    (Operator, operators),
    (MiniProgram, mini_programs),
    (Registration, registrations),
    (MonthlyCounter, monthly_counters),
    (Link, links),
    (Component, components),
    (Authorization, authorizations),
    (Credential, credentials),
    (Confirmation, confirmations),
    (MailMessage, mail_outbox),
    (PersonalWechatEmail, personal_wechat_emails),
    (AuditEvent, audit_events),
    (WebSession, web_sessions),
    (WechatUser, wechat_users),
    (LoginFailure, login_failures),
    (PushJob, push_jobs),
    (SandboxState, sandbox_state),
    (VerificationTask, verification_tasks),
)

mapper_registry = registry(metadata=metadata)
for _entity, _table in _MAPPED:
    mapper_registry.map_imperatively(_entity, _table)


def table_of(entity: type[Any]) -> Table:
    """The table an entity class is mapped to."""
    return next(table for mapped, table in _MAPPED if mapped is entity)


# ---------------------------------------------------------------- the mail outbox (transactional)

from fastreg.domain.entities import OutgoingMail  # noqa: E402

outgoing_mail = Table(
    "outgoing_mail",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("to", String(254), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("attempts", Integer, default=0, nullable=False),
    # A sent message's next attempt is far in the future (``DELIVERED``), so the due scan never walks it.
    Column("next_attempt_at", UTCDateTime, index=True, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
_MAPPED = (*_MAPPED, (OutgoingMail, outgoing_mail))
mapper_registry.map_imperatively(OutgoingMail, outgoing_mail)
