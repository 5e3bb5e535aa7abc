"""Completing a fast registration, the same for both channels: in the caller's transaction, re-check
eligibility, spend the quota atomically, create the MP under the OA's principal, link it (exempt from the
13/month limit, no follower notice, not on the profile), certify it when certification is reused, audit it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db.models import Link, MiniProgram, OfficialAccount, Registration
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
from fastreg.services.accounts import new_account_ids
from fastreg.services.quota import eligibility_input, spend


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
) -> MiniProgram:
    """``registration`` is pending (console) or new and not yet added to the session (Open API)."""
    session, now = uow.session, uow.clock.now()
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
    spend(session, oa, now, platform)

    appid, original_id = new_account_ids(session)
    certification = inherited_certification(bool(registration.reuse_certification), oa, now)
    mp = MiniProgram(
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
    session.add(mp)
    session.flush()
    terms = fast_registration_link()
    session.add(
        Link(
            oa_id=oa.id,
            mp_id=mp.id,
            status=LinkStatus.LINKED.value,
            linked_via=LinkedVia.FAST_REGISTER.value,
            show_profile=terms.show_profile,
            notify_users=terms.notify_users,
            created_at=now,
            linked_at=now,
        )
    )
    if registration.status == RegistrationStatus.PENDING:
        registration.status = next_status(registration.status, "completed")
    elif registration.channel == Channel.OPEN_API and registration.id is None:
        registration.status = RegistrationStatus.COMPLETED.value
        session.add(registration)
    else:
        raise DomainError(Err.WRONG_STATE)
    registration.mp_id = mp.id
    registration.admin_wxid = admin_wxid
    registration.completed_at = registration.updated_at = now
    audit.record(
        session,
        now,
        AuditKind.COMPLETED,
        actor,
        oa_appid=oa.appid,
        mp_appid=mp.appid,
        certified=certification.certified,
        channel=registration.channel,
    )
    audit.record(
        session,
        now,
        AuditKind.LINKED,
        actor,
        oa_appid=oa.appid,
        mp_appid=mp.appid,
        linked_via=LinkedVia.FAST_REGISTER.value,
    )
    return mp


def record_refusal(platform: Platform, error: DomainError, *, actor: str, oa_appid: str) -> None:
    """A refused attempt changes nothing, but is audited (in its own transaction, after the rollback)."""
    kind = AuditKind.QUOTA_REFUSED if error.err is Err.QUOTA_EXCEEDED else AuditKind.REFUSED
    with platform.uow() as uow:
        audit.record(uow.session, uow.clock.now(), kind, actor, oa_appid=oa_appid, errcode=error.errcode)
        uow.commit()


def release_email(session: Session, email: str | None) -> None:
    """Give back an email reserved by a registration that did not complete."""
    from fastreg.adapters.db.models import Identifier

    if email:
        reserved = session.get(Identifier, email)
        if reserved is not None and reserved.kind == "email":
            session.delete(reserved)


def touch(registration: Registration, now: datetime) -> None:
    registration.updated_at = now
