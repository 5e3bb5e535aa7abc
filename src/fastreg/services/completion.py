"""Completing a fast registration, the same for both channels: in the caller's transaction, re-check
eligibility, spend the quota atomically, create the MP under the OA's principal, link it (exempt from the
13/month limit, no follower notice, not on the profile), certify it when certification is reused, audit it.

This is the hot path of ``account/fastregister``: it runs prepared statements (``adapters.db.prepared``) on the
transaction's connection, its writes in one batch (one round trip on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import Identifier
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.adapters.db.repositories.registrations import EligibilityQuery, spend
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.entities import AuditEvent
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, LinkedVia, LinkStatus, RegistrationStatus
from fastreg.domain.rules import (
    ComponentFacts,
    Stage,
    ensure_eligible,
    fast_registration_link,
    next_status,
)
from fastreg.domain.versions import certification_at_completion
from fastreg.platform import Platform
from fastreg.services.accounts import new_account_ids
from fastreg.services.versions import VersionQuery


@dataclass(frozen=True)
class Completion:
    """What completing needs to know of the registration."""

    registration_id: int | None  # None: the Open API channel, whose registration row is written here
    channel: Channel
    reuse_certification: bool
    started_at: datetime
    mp_name: str | None = None
    email: str | None = None
    password_hash: str | None = None
    activated: bool = False
    component_id: int | None = None


@dataclass(frozen=True)
class CreatedMiniProgram:
    id: int
    appid: str
    certified: bool
    certified_until: datetime | None


def complete(
    uow: UnitOfWork,
    platform: Platform,
    oa: Any,
    completion: Completion,
    *,
    actor: str,
    admin_wxid: str | None,
    scan_valid: bool = True,
    component: ComponentFacts | None = None,
    then: Callable[[str], None] | None = None,
    eligibility: EligibilityQuery | None = None,
    version: VersionQuery | None = None,
) -> CreatedMiniProgram:
    """``then(appid)``: the caller's own writes for the new MP, sent in the same batch. ``eligibility`` and
    ``version``: the OA's eligibility query and the platform version's, when the caller sent them already
    (with its own reads, in one round trip)."""
    conn, now = uow.conn, uow.clock.now()
    if eligibility is None or version is None:
        with conn.batch():
            eligibility = eligibility or EligibilityQuery(conn, oa, now, platform, completion.registration_id)
            version = version or VersionQuery(conn, platform)
    facts = eligibility.facts(
        reuse_certification=completion.reuse_certification, scan_valid=scan_valid, component=component
    )
    ensure_eligible(facts, Stage.COMPLETE)
    certification = certification_at_completion(version.get(), completion.reuse_certification, oa, now)
    with conn.batch():  # PostgreSQL: every write below in one round trip
        spending = spend(conn, oa, facts.quota, platform)
        appid, original_id = new_account_ids(conn)
        inserted = conn.execute(
            sql.INSERT_MINI_PROGRAM,
            {
                "appid": appid,
                "secret_hash": crypto.token_hash(crypto.new_secret()),
                "original_id": original_id,
                "name": completion.mp_name,
                "principal_id": oa.principal_id,
                "created_by_oa_id": oa.id,
                "admin_wxid": admin_wxid,
                "email": completion.email,
                "password_hash": completion.password_hash,
                "active": completion.activated,
                "certified": certification.certified,
                "certified_until": certification.certified_until,
                "created_via": completion.channel.value,
                "status": RegistrationStatus.COMPLETED.value,
                "created_at": now,
                "completed_at": now,
            },
        )
        terms = fast_registration_link()
        conn.execute(
            sql.INSERT_LINK,
            {
                "oa_id": oa.id,
                "mp_appid": appid,
                "status": LinkStatus.LINKED.value,
                "linked_via": LinkedVia.FAST_REGISTER.value,
                "show_profile": terms.show_profile,
                "notify_users": terms.notify_users,
                "created_at": now,
                "linked_at": now,
            },
        )
        if completion.registration_id is None:
            _insert_open_api_registration(conn, oa, completion, appid, admin_wxid, now)
        conn.execute(
            sql.INSERT_AUDIT,
            [
                _audit_row(
                    now,
                    AuditKind.COMPLETED,
                    actor,
                    oa.appid,
                    appid,
                    {"certified": certification.certified, "channel": completion.channel.value},
                ),
                _audit_row(
                    now, AuditKind.LINKED, actor, oa.appid, appid, {"linked_via": LinkedVia.FAST_REGISTER.value}
                ),
            ],
        )
        if then is not None:
            then(appid)
    spending.confirm()
    mp_id: int = inserted.scalar_one()
    uow.on_commit(lambda: platform.observer.record_registration("completed"))
    return CreatedMiniProgram(mp_id, appid, certification.certified, certification.certified_until)


def _insert_open_api_registration(
    conn: PreparedConnection,
    oa: Any,
    completion: Completion,
    mp_appid: str,
    admin_wxid: str | None,
    now: datetime,
) -> None:
    """The Open API channel's registration goes pending → completed inside this one transaction."""
    conn.execute(
        sql.INSERT_REGISTRATION,
        {
            "oa_id": oa.id,
            "channel": completion.channel.value,
            "status": next_status(RegistrationStatus.PENDING, "completed").value,
            "reuse_certification": completion.reuse_certification,
            "reuse_operator": False,
            "component_id": completion.component_id,
            "admin_wxid": admin_wxid,
            "mp_appid": mp_appid,
            "created_at": completion.started_at,
            "updated_at": now,
            "completed_at": now,
        },
    )


def _audit_row(
    at: datetime, kind: AuditKind, actor: str, oa_appid: str, mp_appid: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {"at": at, "kind": kind.value, "actor": actor, "oa_appid": oa_appid, "mp_appid": mp_appid, "detail": detail}


def record_refusal(platform: Platform, error: DomainError, *, actor: str, oa_appid: str) -> None:
    """A refused attempt changes nothing, but is audited (in its own transaction, after the rollback)."""
    kind = AuditKind.QUOTA_REFUSED if error.err is Err.QUOTA_EXCEEDED else AuditKind.REFUSED
    with platform.uow() as uow:
        detail = {"errcode": error.errcode}
        uow.audit.add(AuditEvent(at=uow.clock.now(), kind=kind.value, actor=actor, oa_appid=oa_appid, detail=detail))
        uow.commit()
    platform.observer.record_registration("refused", error.errcode)


def release_email(session: Session, email: str | None) -> None:
    """Give back an email reserved by a registration that did not complete."""
    if email:
        reserved = session.get(Identifier, email)
        if reserved is not None and reserved.kind == "email":
            session.delete(reserved)
