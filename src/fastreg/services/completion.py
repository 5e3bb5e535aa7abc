"""Completing a fast registration, the same for both channels: in the caller's transaction, re-check
eligibility, spend the quota atomically, create the MP under the OA's principal, link it (exempt from the
13/month limit, no follower notice, not on the profile), certify it when certification is reused, audit it.

This is the hot path of ``account/fastregister``: rows are written with Core statements (one round trip
each, no ORM flush machinery), and the facts are read in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db.models import AuditEvent, Identifier, Link, MiniProgram, OfficialAccount, Registration
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, LinkedVia, LinkStatus, RegistrationStatus
from fastreg.domain.rules import (
    ComponentFacts,
    Stage,
    ensure_eligible,
    fast_registration_link,
    inherited_certification,
    next_status,
)
from fastreg.platform import Platform
from fastreg.services import audit
from fastreg.services.quota import eligibility_input, spend


@dataclass(frozen=True)
class CreatedMiniProgram:
    id: int
    appid: str
    certified: bool
    certified_until: datetime | None


def complete(
    uow: UnitOfWork,
    platform: Platform,
    oa: OfficialAccount,
    registration: Registration,
    *,
    actor: str,
    admin_wxid: str | None,
    scan_valid: bool = True,
    component: ComponentFacts | None = None,
) -> CreatedMiniProgram:
    """``registration`` is pending (console, in the session) or new and not in the session (Open API)."""
    session, now = uow.session, uow.clock.now()
    is_new = registration.id is None
    facts = eligibility_input(
        session,
        oa,
        now,
        platform,
        ignore_pending_id=registration.id,
        reuse_certification=bool(registration.reuse_certification),
        scan_valid=scan_valid,
        component=component,
    )
    ensure_eligible(facts, Stage.COMPLETE)
    if not is_new and registration.status != RegistrationStatus.PENDING:
        raise DomainError(Err.WRONG_STATE)
    spend(session, oa, facts.quota, platform)

    appid, original_id = crypto.new_appid(), crypto.new_original_id()
    # Random ids (64 and 48 bits): a collision would fail the whole transaction, which changes nothing.
    session.execute(
        insert(Identifier), [{"value": appid, "kind": "appid"}, {"value": original_id, "kind": "original_id"}]
    )
    certification = inherited_certification(bool(registration.reuse_certification), oa, now)
    mp_id = session.execute(
        insert(MiniProgram)
        .values(
            appid=appid,
            secret_hash=crypto.token_hash(crypto.new_secret()),
            original_id=original_id,
            name=registration.mp_name,
            principal_id=oa.principal_id,
            created_by_oa_id=oa.id,
            admin_wxid=admin_wxid,
            email=registration.email,
            password_hash=registration.password_hash,
            active=registration.email_activated_at is not None,
            certified=certification.certified,
            certified_until=certification.certified_until,
            created_via=registration.channel,
            status=RegistrationStatus.COMPLETED.value,
            created_at=now,
            completed_at=now,
        )
        .returning(MiniProgram.id)
    ).scalar_one()
    terms = fast_registration_link()
    session.execute(
        insert(Link).values(
            oa_id=oa.id,
            mp_id=mp_id,
            status=LinkStatus.LINKED.value,
            linked_via=LinkedVia.FAST_REGISTER.value,
            show_profile=terms.show_profile,
            notify_users=terms.notify_users,
            created_at=now,
            linked_at=now,
        )
    )
    _record_completed(session, registration, mp_id, admin_wxid, now, is_new=is_new)
    session.execute(
        insert(AuditEvent),
        [
            _audit_row(
                now,
                AuditKind.COMPLETED,
                actor,
                oa.appid,
                appid,
                {"certified": certification.certified, "channel": registration.channel},
            ),
            _audit_row(now, AuditKind.LINKED, actor, oa.appid, appid, {"linked_via": LinkedVia.FAST_REGISTER.value}),
        ],
    )
    uow.on_commit(lambda: platform.observer.record_registration("completed"))
    return CreatedMiniProgram(mp_id, appid, certification.certified, certification.certified_until)


def _record_completed(
    session: Session, registration: Registration, mp_id: int, admin_wxid: str | None, now: datetime, *, is_new: bool
) -> None:
    if is_new:
        # The Open API channel's registration goes pending → completed inside this one transaction.
        assert registration.channel == Channel.OPEN_API
        session.execute(
            insert(Registration).values(
                oa_id=registration.oa_id,
                channel=registration.channel,
                status=next_status(RegistrationStatus.PENDING, "completed").value,
                reuse_certification=registration.reuse_certification,
                reuse_operator=False,
                component_id=registration.component_id,
                admin_wxid=admin_wxid,
                mp_id=mp_id,
                created_at=registration.created_at,
                updated_at=now,
                completed_at=now,
            )
        )
        return
    registration.status = next_status(registration.status, "completed").value
    registration.mp_id = mp_id
    registration.admin_wxid = admin_wxid
    registration.completed_at = registration.updated_at = now


def _audit_row(
    at: datetime, kind: AuditKind, actor: str, oa_appid: str, mp_appid: str, detail: dict[str, Any]
) -> dict[str, Any]:
    return {"at": at, "kind": kind.value, "actor": actor, "oa_appid": oa_appid, "mp_appid": mp_appid, "detail": detail}


def record_refusal(platform: Platform, error: DomainError, *, actor: str, oa_appid: str) -> None:
    """A refused attempt changes nothing, but is audited (in its own transaction, after the rollback)."""
    kind = AuditKind.QUOTA_REFUSED if error.err is Err.QUOTA_EXCEEDED else AuditKind.REFUSED
    with platform.uow() as uow:
        audit.record(uow.session, uow.clock.now(), kind, actor, oa_appid=oa_appid, errcode=error.errcode)
        uow.commit()
    platform.observer.record_registration("refused", error.errcode)


def release_email(session: Session, email: str | None) -> None:
    """Give back an email reserved by a registration that did not complete."""
    if email:
        reserved = session.get(Identifier, email)
        if reserved is not None and reserved.kind == "email":
            session.delete(reserved)
