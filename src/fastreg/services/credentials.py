"""Bearer secrets (access tokens, pre-auth and authorization codes, tickets, activation links):
random >= 128 bits, stored only as a SHA-256 digest, expiring, and single-use by a conditional update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import Credential
from fastreg.adapters.db.prepared import PreparedConnection, Rows, prepared
from fastreg.services.ports import UnitOfWork


class CredentialKind(StrEnum):
    ACCESS_TOKEN = "access_token"  # /cgi-bin/token, subject = OA or MP appid
    COMPONENT_TOKEN = "component_token"  # subject = component appid
    AUTHORIZER_TOKEN = "authorizer_token"  # subject = authorizer appid, component_id set
    VERIFY_TICKET = "verify_ticket"  # component_verify_ticket, subject = component appid, component_id set
    PRE_AUTH_CODE = "pre_auth_code"  # subject = component appid
    AUTH_CODE = "auth_code"  # subject = authorizer appid, component_id set
    TICKET = "fastregister_ticket"  # subject = OA appid, component_id set, data: copy_wx_verify, confirmation
    ACTIVATION = "activation"  # subject = registration id
    ENROLMENT = "wechat_enrolment"  # subject = the WeChat user's wxid (production phone logins)


class Lookup(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class Found:
    status: Lookup
    credential: Credential | None = None


def _row(
    now: datetime, kind: CredentialKind, raw: str, subject: str, ttl_seconds: int, component_id: int | None, data: Any
) -> dict[str, Any]:
    """The stored credential of a secret (its digest), as the columns of its row."""
    return {
        "token_hash": crypto.token_hash(raw),
        "kind": kind.value,
        "subject": subject,
        "component_id": component_id,
        "data": data,
        "issued_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
        "used_at": None,
    }


def issue(
    session: Session | PreparedConnection,
    now: datetime,
    kind: CredentialKind,
    subject: str,
    ttl_seconds: int,
    *,
    component_id: int | None = None,
    data: dict[str, Any] | None = None,
    nbytes: int = 24,
    raw: str | None = None,
) -> str:
    """Store a new secret (``raw``, or a random one of ``nbytes``) and return it."""
    raw = raw or crypto.new_token(nbytes)
    if isinstance(session, Session) and session.new:  # rows this one may refer to
        session.flush()
    conn = prepared(session)
    conn.execute(sql.INSERT_CREDENTIAL, _row(now, kind, raw, subject, ttl_seconds, component_id, data))
    return raw


def issue_in(
    uow: UnitOfWork,
    now: datetime,
    kind: CredentialKind,
    subject: str,
    ttl_seconds: int,
    *,
    component_id: int | None = None,
) -> str:
    """:func:`issue` through the unit of work's credentials repository."""
    raw = crypto.new_token()
    uow.credentials.add(Credential(**_row(now, kind, raw, subject, ttl_seconds, component_id, None)))
    return raw


def _found(credential: Credential | None, kind: CredentialKind, now: datetime) -> Found:
    if credential is None or credential.kind != kind.value:
        return Found(Lookup.UNKNOWN)
    if credential.used_at is not None:
        return Found(Lookup.USED, credential)
    if credential.expires_at <= now:
        return Found(Lookup.EXPIRED, credential)
    return Found(Lookup.OK, credential)


def find_in(uow: UnitOfWork, kind: CredentialKind, raw: str) -> Found:
    """:func:`find` through the unit of work's credentials repository."""
    return _found(uow.credentials.credential(crypto.token_hash(raw)), kind, uow.clock.now())


def find(session: Session, now: datetime, kind: CredentialKind, raw: str) -> Found:
    """Look a secret up without using it."""
    return _found(session.get(Credential, crypto.token_hash(raw)), kind, now)


def consume(session: Session, now: datetime, credential: Credential) -> bool:
    """Mark a single-use secret used; False when a concurrent caller used it first."""
    result = session.execute(
        update(Credential)
        .where(Credential.token_hash == credential.token_hash, Credential.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        credential.used_at = now
        return True
    return False


def send_claim(
    conn: PreparedConnection,
    now: datetime,
    kind: CredentialKind,
    raw: str,
    *,
    subject: str,
    component_id: int | None,
) -> Rows:
    """Use a single-use secret issued to ``subject`` (and component) in one conditional statement, sent (inside
    a batch: queued with the caller's other statements); :func:`claimed_data` reads its data, or None when it
    is unknown, expired, already used, or someone else's. Rolled back with the transaction, so a refused call
    leaves the secret usable; a concurrent claim waits for the row and then finds it used."""
    return conn.execute(
        sql.CLAIM_CREDENTIAL,
        {
            "claimed_hash": crypto.token_hash(raw),
            "claimed_kind": kind.value,
            "now": now,
            "claimed_subject": subject,
            "claimed_component_id": component_id,
        },
    )


def claimed_data(claimed: Rows) -> dict[str, Any] | None:
    row = claimed.first()
    return None if row is None else dict(row.data or {})


def revoke_unused(session: Session, now: datetime, kind: CredentialKind, subject: str) -> None:
    """Invalidate every unused secret of a kind for a subject (a resent activation link replaces the old)."""
    session.execute(
        update(Credential)
        .where(Credential.kind == kind.value, Credential.subject == subject, Credential.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def latest(session: Session, kind: CredentialKind, subject: str) -> Credential | None:
    return session.execute(
        select(Credential)
        .where(Credential.kind == kind.value, Credential.subject == subject)
        .order_by(Credential.issued_at.desc())
        .limit(1)
    ).scalar_one_or_none()
