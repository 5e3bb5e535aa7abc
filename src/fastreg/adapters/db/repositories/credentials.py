"""SQL repositories of the credentials area (``services/ports/credentials.py``): the bearer secrets, and the
gateway of ``account/fastregister``. Both run prepared statements (``statements``, built once) on the
transaction's connection; each of the gateway's methods sends its statements in one batch: one round trip on
PostgreSQL (the completion's writes go with the COMMIT's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update

from fastreg.adapters.db import counters
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import credentials
from fastreg.adapters.db.prepared import PreparedConnection, Rows
from fastreg.adapters.db.repositories import columns_of
from fastreg.domain.entities import CredentialValues
from fastreg.domain.rules import EligibilityFacts, QuotaStatus, monthly_limit
from fastreg.domain.versions import PlatformVersion
from fastreg.services.ports.credentials import (
    ClaimAndFacts,
    CompletionWrite,
    CompletionWritten,
    Facts,
    FactsQuery,
    FastRegisterContext,
    OpenedToken,
    QuotaSpend,
    Spent,
    TicketClaim,
)

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork

_CREDENTIAL = select(credentials).where(credentials.c.token_hash == bindparam("token_hash"))
# Bind names differ from the column names: an UPDATE reserves those for its SET clause.
_CONSUME = (
    update(credentials)
    .where(credentials.c.token_hash == bindparam("consumed_hash"), credentials.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
_REVOKE_UNUSED = (
    update(credentials)
    .where(
        credentials.c.kind == bindparam("revoked_kind"),
        credentials.c.subject == bindparam("revoked_subject"),
        credentials.c.used_at.is_(None),
    )
    .values(used_at=bindparam("now"))
)
# The token (every column) with the OA it acts for, the component holding it and the OA's authorization of it.
_TOKEN_WITH_OA_CONTEXT = sql.TOKEN_WITH_OA_CONTEXT.add_columns(
    credentials.c.token_hash, credentials.c.data, credentials.c.issued_at
)
_CONTEXT_FIELDS = tuple(FastRegisterContext.__dataclass_fields__)
PLATFORM_VERSION_KEY = "platform_version"  # where the sandbox keeps its pinned version (``services.versions``)


def _credential(row: Any) -> CredentialValues:
    return CredentialValues(
        token_hash=row.token_hash,
        kind=row.kind,
        subject=row.subject,
        component_id=row.component_id,
        data=row.data,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


def _flush_orm(uow: UnitOfWork) -> None:
    """Rows the ORM session holds (when one was made) that a prepared statement's row may refer to go first."""
    session = uow._session
    if session is not None and session.new:
        session.flush()


class SqlCredentialRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, credential: CredentialValues, /) -> None:
        _flush_orm(self._uow)
        self._uow.conn.execute(sql.INSERT_CREDENTIAL, columns_of(credential))

    def credential(self, token_hash: str) -> CredentialValues | None:
        conn = self._uow.conn
        with conn.batch():  # the clock's sandbox read goes along: BEGIN, this and it in one round trip
            found = conn.execute(_CREDENTIAL, {"token_hash": token_hash})
            self._uow.clock.now()
        row = found.first()
        return None if row is None else _credential(row)

    def use(self, credential: CredentialValues, now: datetime) -> bool:
        done = self._uow.conn.execute(_CONSUME, {"consumed_hash": credential.token_hash, "now": now})
        if done.rowcount:
            credential.used_at = now
            return True
        return False

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        self._uow.conn.execute(_REVOKE_UNUSED, {"revoked_kind": kind, "revoked_subject": subject, "now": now})

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.adapters.db import statements as sql

        row = self._uow.conn.execute(sql.TOKEN, {"token_hash": token_hash}).first()
        return None if row is None else str(row.subject)


@dataclass(frozen=True)
class _Principal:
    type: str
    blacklisted: bool


class _FactsReads:
    """The eligibility query (with the sandbox's version), sent (inside a batch) when made, read when asked."""

    def __init__(self, uow: UnitOfWork, query: FactsQuery) -> None:
        self._query = query
        params = {
            "principal_id": query.oa.principal_id,
            "oa_id": query.oa.id,
            "counter_kind": counters.REGISTRATION,
            "month": query.month,
            "stale_before": query.stale_before,
            "ignore_registration_id": -1 if query.ignore_registration_id is None else query.ignore_registration_id,
        }
        if query.sandbox:
            self._eligibility = uow.conn.execute(sql.ELIGIBILITY_WITH_VERSION, {**params, "key": PLATFORM_VERSION_KEY})
        else:
            self._eligibility = uow.conn.execute(sql.ELIGIBILITY, params)

    def facts(self) -> Facts:
        q, row = self._query, self._eligibility.one()
        return Facts(
            EligibilityFacts(
                oa=q.oa,
                principal=_Principal(row.type, row.blacklisted),
                principal_mp_count=row.mp_count,
                quota=QuotaStatus(month=q.month, limit=monthly_limit(row.type, q.limits), used=row.used or 0),
                has_pending=bool(row.pending),
                now=q.now,
                limits=q.limits,
            ),
            _stored_version(row.version if q.sandbox else None),
        )


def _stored_version(value: Any) -> PlatformVersion | None:
    try:
        return PlatformVersion(str((value or {})["version"]))
    except (KeyError, TypeError, ValueError):
        return None


class SqlFastRegisterGateway:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def open_with_token(self, token_hash: str) -> OpenedToken:
        conn = self._uow.conn
        with conn.batch():  # BEGIN, the token with its OA and component, and the sandbox clock: one round trip
            found = conn.execute(_TOKEN_WITH_OA_CONTEXT, {"token_hash": token_hash})
            self._uow.clock.now()
        row = found.first()
        if row is None:
            return OpenedToken(None)
        credential = _credential(row)
        if row.id is None:
            return OpenedToken(credential)
        if row.component_appid is None:
            return OpenedToken(credential, for_oa=True)
        return OpenedToken(credential, for_oa=True, context=_context(row))

    def context(self, oa_appid: str, component_id: int) -> FastRegisterContext | None:
        row = self._uow.conn.execute(sql.OA_WITH_COMPONENT, {"appid": oa_appid, "component_id": component_id}).first()
        return None if row is None else _context(row)

    def claim_and_facts(self, claim: TicketClaim, query: FactsQuery, spend: QuotaSpend) -> ClaimAndFacts:
        conn = self._uow.conn
        with conn.batch():  # the ticket's claim, the eligibility facts (and version) and the counts: one round trip
            claimed = conn.execute(
                sql.CLAIM_CREDENTIAL,
                {
                    "claimed_hash": claim.token_hash,
                    "claimed_kind": claim.kind,
                    "now": query.now,
                    "claimed_subject": claim.subject,
                    "claimed_component_id": claim.component_id,
                },
            )
            reads = _FactsReads(self._uow, query)
            spending = _Spending(conn, spend)
        row = claimed.first()
        return ClaimAndFacts(None if row is None else dict(row.data or {}), reads.facts(), spending.spent())

    def facts(self, query: FactsQuery) -> Facts:
        _flush_orm(self._uow)
        with self._uow.conn.batch():
            reads = _FactsReads(self._uow, query)
        return reads.facts()

    def spend(self, spend: QuotaSpend) -> Spent:
        _flush_orm(self._uow)
        with self._uow.conn.batch():
            spending = _Spending(self._uow.conn, spend)
        return spending.spent()

    def write_completion(self, write: CompletionWrite) -> CompletionWritten:
        _flush_orm(self._uow)
        conn, mp = self._uow.conn, write.mini_program
        with conn.deferred():  # PostgreSQL: every write goes with the COMMIT, in one round trip
            conn.execute(
                sql.INSERT_IDENTIFIER,
                [{"value": mp.appid, "kind": "appid"}, {"value": mp.original_id, "kind": "original_id"}],
            )
            inserted = conn.execute(sql.INSERT_MINI_PROGRAM, columns_of(mp))
            conn.execute(sql.INSERT_LINK, {"oa_id": write.oa_id, "mp_appid": mp.appid, **columns_of(write.link)})
            if write.registration is not None:
                r = write.registration
                conn.execute(
                    sql.INSERT_REGISTRATION,
                    {
                        "oa_id": r.oa_id,
                        "channel": r.channel,
                        "status": r.status,
                        "reuse_certification": r.reuse_certification,
                        "reuse_operator": r.reuse_operator,
                        "component_id": r.component_id,
                        "admin_wxid": r.admin_wxid,
                        "mp_appid": mp.appid,
                        "created_at": r.created_at,
                        "updated_at": r.updated_at,
                        "completed_at": r.completed_at,
                    },
                )
            conn.execute(sql.INSERT_AUDIT, [columns_of(event) for event in write.audit])
            if write.authorization is not None:
                conn.execute(sql.INSERT_AUTHORIZATION, columns_of(write.authorization))
            if write.authorization_code is not None:
                conn.execute(sql.INSERT_CREDENTIAL, columns_of(write.authorization_code))
        return _Written(inserted)


class _Spending:
    """The two conditional counts of ``QuotaSpend``, sent (inside a batch) when made, read when asked."""

    def __init__(self, conn: PreparedConnection, spend: QuotaSpend) -> None:
        self._counted = counters.increment(conn, spend.oa_id, counters.REGISTRATION, spend.month, spend.monthly_limit)
        self._principal_counted = conn.execute(
            sql.SPEND_PRINCIPAL, {"principal_id": spend.principal_id, "limit": spend.principal_limit}
        )

    def spent(self) -> Spent:
        return Spent(
            counted=self._counted.first() is not None, principal_counted=bool(self._principal_counted.rowcount)
        )


class _Written:
    """The new MP's id, from its INSERT's answer (which waits for the deferred writes to be sent)."""

    __slots__ = ("_inserted",)

    def __init__(self, inserted: Rows) -> None:
        self._inserted = inserted

    @property
    def mp_id(self) -> int:
        mp_id: int = self._inserted.scalar_one()
        return mp_id


def _context(row: Any) -> FastRegisterContext:
    """From a row of ``statements.OA_WITH_COMPONENT`` or ``statements.TOKEN_WITH_OA_CONTEXT``."""
    return FastRegisterContext(**{name: getattr(row, name) for name in _CONTEXT_FIELDS})
