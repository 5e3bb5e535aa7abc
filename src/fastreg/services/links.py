"""Links between an OA and MPs: listing (wxamplinkget), ordinary links confirmed by both admins and counted
toward 13 a month (wxamplink), unlinking (wxampunlink) and the show-on-profile switch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from fastreg.adapters.db import counters
from fastreg.adapters.db.models import Confirmation, Link, MiniProgram, OfficialAccount
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind, LinkedVia, LinkStatus
from fastreg.domain.rules import calendar_month, ensure_link_allowed, ordinary_link
from fastreg.platform import Platform
from fastreg.services import audit, confirmations
from fastreg.services.accounts import find_official_account
from fastreg.services.confirmations import ConfirmationView


@dataclass(frozen=True)
class LinkView:
    appid: str
    original_id: str
    nickname: str
    email: str
    status: str
    linked_via: str
    show_profile: bool
    notify_users: bool
    certified: bool
    created_at: datetime


def _mp(uow: UnitOfWork, appid: str) -> MiniProgram:
    mp = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()
    if mp is None:
        raise DomainError(Err.LINK_MP_NOT_FOUND)
    return mp


def _link(uow: UnitOfWork, oa: OfficialAccount, mp: MiniProgram) -> Link | None:
    return uow.session.execute(select(Link).where(Link.oa_id == oa.id, Link.mp_id == mp.id)).scalar_one_or_none()


def list_links(platform: Platform, oa_appid: str) -> list[LinkView]:
    with platform.uow(readonly=True) as uow:
        oa = find_official_account(uow.session, oa_appid)
        rows = uow.session.execute(
            select(Link, MiniProgram)
            .join(MiniProgram, MiniProgram.id == Link.mp_id)
            .where(Link.oa_id == oa.id)
            .order_by(Link.id)
        ).all()
        return [
            LinkView(
                appid=mp.appid,
                original_id=mp.original_id,
                nickname=mp.name or "",
                email=mp.email or "",
                status=link.status,
                linked_via=link.linked_via,
                show_profile=link.show_profile,
                notify_users=link.notify_users,
                certified=mp.certified,
                created_at=link.created_at,
            )
            for link, mp in rows
        ]


def request_link(
    platform: Platform, oa_appid: str, mp_appid: str, notify_users: bool, show_profile: bool
) -> ConfirmationView:
    """Start an ordinary link: the OA admin confirms first (status 12), then the MP admin (status 2 → 1)."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        oa = find_official_account(session, oa_appid)
        mp = _mp(uow, mp_appid)
        existing = _link(uow, oa, mp)
        if existing is not None and existing.status != LinkStatus.REFUSED:
            raise DomainError(Err.LINK_EXISTS)
        month = calendar_month(now, platform.settings.timezone)
        ensure_link_allowed(counters.used(session, oa.id, counters.LINK, month), platform.limits)
        terms = ordinary_link(notify_users, show_profile)
        if existing is not None:
            session.delete(existing)
            session.flush()
        link = Link(
            oa_id=oa.id,
            mp_id=mp.id,
            status=LinkStatus.WAITING_OA_ADMIN.value,
            linked_via=LinkedVia.LINK.value,
            show_profile=terms.show_profile,
            notify_users=terms.notify_users,
            created_at=now,
            linked_at=None,
        )
        session.add(link)
        session.flush()
        confirmation = confirmations.create(
            session,
            now,
            platform,
            ConfirmationKind.LINK_OA_ADMIN,
            oa.appid,
            oa.admin_wxid,
            {"link_id": link.id, "mp_appid": mp.appid, "mp_name": mp.name or mp.appid, "oa_name": oa.name},
        )
        audit.record(session, now, AuditKind.LINK_REQUESTED, oa.appid, oa_appid=oa.appid, mp_appid=mp.appid)
        result = confirmations.view(session, platform, confirmation, now)
        uow.commit()
        return result


def _link_of(uow: UnitOfWork, confirmation: Confirmation) -> Link:
    link = uow.session.get(Link, int(confirmation.payload["link_id"]))
    if link is None:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    return link


def on_oa_admin_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    link = _link_of(uow, confirmation)
    if link.status != LinkStatus.WAITING_OA_ADMIN:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action != confirmations.CONFIRM:
        uow.session.delete(link)
        return None
    platform: Platform = uow.platform
    now = uow.clock.now()
    mp = uow.session.get(MiniProgram, link.mp_id)
    assert mp is not None
    # The link counts toward the month's 13 once the OA admin commits to it; the count is atomic.
    month = calendar_month(now, platform.settings.timezone)
    if not counters.try_increment(uow.session, link.oa_id, counters.LINK, month, platform.limits.links_monthly):
        raise DomainError(Err.LINK_LIMIT, limit=platform.limits.links_monthly)
    link.status = LinkStatus.WAITING_MP_ADMIN.value
    confirmations.create(
        uow.session,
        now,
        platform,
        ConfirmationKind.LINK_MP_ADMIN,
        mp.appid,
        mp.admin_wxid or "",
        {
            "link_id": link.id,
            "oa_appid": confirmation.account_appid,
            "oa_name": confirmation.payload.get("oa_name"),
            "mp_name": mp.name or mp.appid,
        },
    )
    return None


def on_mp_admin_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    link = _link_of(uow, confirmation)
    if link.status != LinkStatus.WAITING_MP_ADMIN:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    now = uow.clock.now()
    if action == confirmations.CONFIRM:
        link.status = LinkStatus.LINKED.value
        link.linked_at = now
        audit.record(
            uow.session,
            now,
            AuditKind.LINKED,
            wxid,
            oa_appid=confirmation.payload.get("oa_appid"),
            mp_appid=confirmation.account_appid,
            linked_via=LinkedVia.LINK.value,
        )
    else:
        link.status = LinkStatus.REFUSED.value
    return None


def unlink(platform: Platform, oa_appid: str, mp_appid: str, *, actor: str | None = None) -> None:
    """The OA can unlink any MP; a fast-registered MP keeps existing with its principal."""
    with platform.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        uow.session.delete(link)
        audit.record(
            uow.session,
            uow.clock.now(),
            AuditKind.UNLINKED,
            actor or oa.appid,
            oa_appid=oa.appid,
            mp_appid=mp.appid,
            linked_via=link.linked_via,
        )
        uow.commit()


def set_show_profile(platform: Platform, oa_appid: str, mp_appid: str, show: bool, *, actor: str | None = None) -> None:
    with platform.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        if link.status != LinkStatus.LINKED:
            raise DomainError(Err.LINK_NOT_FOUND)
        link.show_profile = show
        audit.record(
            uow.session,
            uow.clock.now(),
            AuditKind.SHOW_PROFILE_CHANGED,
            actor or oa.appid,
            oa_appid=oa.appid,
            mp_appid=mp.appid,
            show_profile=show,
        )
        uow.commit()


def _existing_link(uow: UnitOfWork, oa_appid: str, mp_appid: str) -> tuple[OfficialAccount, MiniProgram, Link]:
    oa = find_official_account(uow.session, oa_appid)
    mp = _mp(uow, mp_appid)
    link = _link(uow, oa, mp)
    if link is None:
        raise DomainError(Err.LINK_NOT_FOUND)
    return oa, mp, link
