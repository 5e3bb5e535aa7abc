"""Prepared Core statements for the paths that must be fast (``account/fastregister``, token checks,
the sandbox clock). Built once at import and executed on the unit of work's connection with parameters:
constructing a statement per call (``insert(...).values(...)``) costs ten times its execution, and the ORM
flush machinery more again."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import Insert, String, and_, bindparam, func, insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnClause

from fastreg.adapters.db.models import (
    AuditEvent,
    Authorization,
    Component,
    Credential,
    Identifier,
    Link,
    MiniProgram,
    MonthlyCounter,
    OfficialAccount,
    Principal,
    Registration,
    SandboxState,
    table_of,
)

credentials = table_of(Credential)
official_accounts = table_of(OfficialAccount)
components = table_of(Component)
authorizations = table_of(Authorization)
principals = table_of(Principal)
counters = table_of(MonthlyCounter)
registrations = table_of(Registration)

TOKEN = select(
    credentials.c.kind,
    credentials.c.subject,
    credentials.c.component_id,
    credentials.c.expires_at,
    credentials.c.used_at,
).where(credentials.c.token_hash == bindparam("token_hash"))

SANDBOX_STATE = select(table_of(SandboxState).c.value).where(table_of(SandboxState).c.key == bindparam("key"))

# The OA (with its principal's type), the component acting for it and what the OA authorized it to do.
_OA_CONTEXT = (
    official_accounts.c.id,
    official_accounts.c.appid,
    official_accounts.c.name,
    official_accounts.c.principal_id,
    official_accounts.c.verified,
    official_accounts.c.verify_expires_at,
    official_accounts.c.overseas,
    official_accounts.c.admin_wxid,
    principals.c.type.label("principal_type"),
    components.c.appid.label("component_appid"),
    components.c.published,
    components.c.permission_sets,
    components.c.redirect_domain,
    authorizations.c.func_info.label("authorized_func_info"),
)
_AUTHORIZED = and_(
    authorizations.c.component_id == components.c.id,
    authorizations.c.authorizer_appid == official_accounts.c.appid,
)
OA_WITH_COMPONENT = (
    select(*_OA_CONTEXT, components.c.id.label("component_id"))
    .select_from(official_accounts)
    .join(principals, principals.c.id == official_accounts.c.principal_id)
    .join(components, components.c.id == bindparam("component_id"))
    .outerjoin(authorizations, _AUTHORIZED)
    .where(official_accounts.c.appid == bindparam("appid"))
)
# For account/fastregister, in one round trip: the token (as TOKEN), the OA it acts for, the component holding
# it and the OA's context as OA_WITH_COMPONENT; NULLs when the token is not an OA's authorizer token.
TOKEN_WITH_OA_CONTEXT = (
    select(*TOKEN.selected_columns, *_OA_CONTEXT)
    .select_from(credentials)
    .outerjoin(official_accounts, official_accounts.c.appid == credentials.c.subject)
    .outerjoin(principals, principals.c.id == official_accounts.c.principal_id)
    .outerjoin(components, components.c.id == credentials.c.component_id)
    .outerjoin(authorizations, _AUTHORIZED)
    .where(credentials.c.token_hash == bindparam("token_hash"))
)

# Bind names differ from the column names: an UPDATE reserves those for its SET clause.
CLAIM_CREDENTIAL = (
    update(credentials)
    .where(
        credentials.c.token_hash == bindparam("claimed_hash"),
        credentials.c.kind == bindparam("claimed_kind"),
        credentials.c.used_at.is_(None),
        credentials.c.expires_at > bindparam("now"),
        credentials.c.subject == bindparam("claimed_subject"),
        credentials.c.component_id == bindparam("claimed_component_id"),
    )
    .values(used_at=bindparam("now"))
    .returning(credentials.c.data)
)

# The status is written into the SQL, not bound: the partial index of pending registrations is chosen by it, and
# SQLite prepares a statement again at every call whose plan depended on a bound value (2.6x the read's time).
PENDING_STATUS: ColumnClause[str] = literal_column("'pending'", String())
_pending = (
    select(func.count())
    .select_from(registrations)
    .where(
        registrations.c.oa_id == bindparam("oa_id"),
        registrations.c.status == PENDING_STATUS,
        registrations.c.updated_at > bindparam("stale_before"),
        registrations.c.id != bindparam("ignore_registration_id"),
    )
    .scalar_subquery()
)
_used = (
    select(counters.c.used)
    .where(
        counters.c.oa_id == bindparam("oa_id"),
        counters.c.kind == bindparam("counter_kind"),
        counters.c.month == bindparam("month"),
    )
    .scalar_subquery()
)
# What eligibility reads beyond the OA itself: its principal, the month's count, a pending registration.
ELIGIBILITY = select(
    principals.c.type,
    principals.c.blacklisted,
    principals.c.mp_count,
    _used.label("used"),
    _pending.label("pending"),
).where(principals.c.id == bindparam("principal_id"))

# In the sandbox, the platform version it pins (``sandbox_state``, its own key) comes along: one statement less.
ELIGIBILITY_WITH_VERSION = ELIGIBILITY.add_columns(SANDBOX_STATE.scalar_subquery().label("version"))

SPEND_PRINCIPAL = (
    update(principals)
    .where(principals.c.id == bindparam("principal_id"), principals.c.mp_count < bindparam("limit"))
    .values(mp_count=principals.c.mp_count + 1)
)

INSERT_IDENTIFIER = insert(table_of(Identifier))
INSERT_MINI_PROGRAM = insert(table_of(MiniProgram)).returning(table_of(MiniProgram).c.id)
# The new MP's id by its appid, so that its link and registration can be written in the same batch as the MP.
_NEW_MP_ID = (
    select(table_of(MiniProgram).c.id).where(table_of(MiniProgram).c.appid == bindparam("mp_appid")).scalar_subquery()
)
INSERT_LINK = insert(table_of(Link)).values(mp_id=_NEW_MP_ID)
INSERT_REGISTRATION = insert(registrations).values(mp_id=_NEW_MP_ID)
INSERT_AUDIT = insert(table_of(AuditEvent))
INSERT_AUTHORIZATION = insert(authorizations)
INSERT_CREDENTIAL = insert(credentials)


@cache
def counter_upsert(dialect: str) -> Insert:
    """Insert the month's counter at 1, or add 1 only while below ``limit``; returns a row when counted."""
    dml: Callable[[Any], Any] = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = dml(counters).values(
        oa_id=bindparam("oa_id"), kind=bindparam("counter_kind"), month=bindparam("month"), used=1
    )
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=["oa_id", "kind", "month"],
        set_={"used": counters.c.used + 1},
        where=counters.c.used < bindparam("limit"),
    ).returning(counters.c.used)
    return upsert
