"""Bearer secrets (access tokens, pre-auth and authorization codes, tickets, activation links):
random >= 128 bits, stored only as a SHA-256 digest, expiring, and single-use by a conditional update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from fastreg.domain import secrets
from fastreg.domain.entities import CredentialValues
from fastreg.services.ports.credentials import CredentialRepository


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
    credential: CredentialValues | None = None


def new(
    now: datetime,
    kind: CredentialKind,
    subject: str,
    ttl_seconds: int,
    *,
    component_id: int | None = None,
    data: dict[str, Any] | None = None,
    nbytes: int = 24,
    raw: str | None = None,
) -> tuple[str, CredentialValues]:
    """A new secret (``raw``, or a random one of ``nbytes``) and the credential that stores its digest."""
    raw = raw or secrets.new_token(nbytes)
    return raw, CredentialValues(
        token_hash=secrets.token_hash(raw),
        kind=kind.value,
        subject=subject,
        component_id=component_id,
        data=data,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        used_at=None,
    )


def issue(
    store: CredentialRepository,
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
    raw, credential = new(now, kind, subject, ttl_seconds, component_id=component_id, data=data, nbytes=nbytes, raw=raw)
    store.add(credential)
    return raw


def status(credential: CredentialValues | None, now: datetime, kinds: set[str]) -> Lookup:
    """What a looked-up secret is worth now, if it is of one of ``kinds``."""
    if credential is None or credential.kind not in kinds:
        return Lookup.UNKNOWN
    if credential.used_at is not None:
        return Lookup.USED
    if credential.expires_at <= now:
        return Lookup.EXPIRED
    return Lookup.OK


def find(store: CredentialRepository, now: datetime, kind: CredentialKind, raw: str) -> Found:
    """Look a secret up without using it."""
    credential = store.credential(secrets.token_hash(raw))
    found = status(credential, now, {kind.value})
    return Found(found, None if found is Lookup.UNKNOWN else credential)


def consume(store: CredentialRepository, now: datetime, credential: CredentialValues) -> bool:
    """Mark a single-use secret used; False when a concurrent caller used it first."""
    return store.use(credential, now)


def revoke_unused(store: CredentialRepository, now: datetime, kind: CredentialKind, subject: str) -> None:
    """Invalidate every unused secret of a kind for a subject (a resent activation link replaces the old)."""
    store.revoke_unused(kind.value, subject, now)
