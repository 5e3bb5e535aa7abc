"""Links between an OA and MPs: listing (wxamplinkget), ordinary links confirmed by both admins and counted
toward 13 a month (wxamplink), unlinking (wxampunlink, which the OA admin must agree to; the console's operator
unlinks at once) and the show-on-profile switch.

While a link or unlink request waits for an admin, asking again is refused (89010 / 89018); once its
confirmation has expired unanswered, the request is stale and a new one may be made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fastreg.adapters.db import counters
from fastreg.adapters.db.models import Confirmation, Link, MiniProgram, OfficialAccount
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind, ConfirmationStatus, LinkedVia, LinkStatus
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


_WAITING = frozenset({LinkStatus.WAITING_OA_ADMIN, LinkStatus.WAITING_MP_ADMIN})


def _mp(uow: UnitOfWork, appid: str) -> MiniProgram:
    mp = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()
    if mp is None:
        raise DomainError(Err.INVALID_APPID)
    return mp


def _link(uow: UnitOfWork, oa: OfficialAccount, mp: MiniProgram, *, lock: bool = False) -> Link | None:
    """The OA's link to the MP; ``lock`` holds its row until commit (PostgreSQL), so that two requests about
    the same link run one after the other."""
    query = select(Link).where(Link.oa_id == oa.id, Link.mp_id == mp.id)
    return uow.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()


def _awaiting_answer(session: Session, now: datetime, kind: ConfirmationKind, account_appid: str, link: Link) -> bool:
    """Whether a confirmation of this kind about this link is still waiting for its admin."""
    rows = session.execute(
        select(Confirmation.payload).where(
            Confirmation.kind == kind.value,
            Confirmation.account_appid == account_appid,
            Confirmation.status == ConfirmationStatus.PENDING.value,
            Confirmation.expires_at > now,
        )
    ).scalars()
    return any(int(payload.get("link_id", 0)) == link.id for payload in rows)


def _link_request_waiting(session: Session, now: datetime, oa: OfficialAccount, mp: MiniProgram, link: Link) -> bool:
    if link.status == LinkStatus.WAITING_OA_ADMIN:
        return _awaiting_answer(session, now, ConfirmationKind.LINK_OA_ADMIN, oa.appid, link)
    return _awaiting_answer(session, now, ConfirmationKind.LINK_MP_ADMIN, mp.appid, link)


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
        existing = _link(uow, oa, mp, lock=True)
        if existing is not None:
            if existing.status == LinkStatus.LINKED:
                raise DomainError(Err.LINK_EXISTS)
            if existing.status in _WAITING and _link_request_waiting(session, now, oa, mp, existing):
                raise DomainError(Err.LINK_PENDING)
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
            uow,
            now,
            platform,
            ConfirmationKind.LINK_OA_ADMIN,
            oa.appid,
            oa.admin_wxid,
            {"link_id": link.id, "mp_appid": mp.appid, "mp_name": mp.name or mp.appid, "oa_name": oa.name},
        )
        audit.record(session, now, AuditKind.LINK_REQUESTED, oa.appid, oa_appid=oa.appid, mp_appid=mp.appid)
        result = confirmations.view(uow, platform, confirmation, now)
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
        uow,
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
    """The console's operator unlinks at once; a fast-registered MP keeps existing with its principal."""
    with platform.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        _remove(uow.session, uow.clock.now(), link, actor or oa.appid, oa.appid, mp.appid)
        uow.commit()


def request_unlink(platform: Platform, oa_appid: str, mp_appid: str) -> ConfirmationView:
    """wxampunlink: the OA admin is asked to agree; the link stays (status 1) until they do, and a cancel
    keeps it. 89018 while an earlier request waits for the admin."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid, lock=True)
        if link.status != LinkStatus.LINKED:
            raise DomainError(Err.INVALID_PARAMETER)
        if _awaiting_answer(session, now, ConfirmationKind.UNLINK_OA_ADMIN, oa.appid, link):
            raise DomainError(Err.UNLINK_PENDING)
        confirmation = confirmations.create(
            uow,
            now,
            platform,
            ConfirmationKind.UNLINK_OA_ADMIN,
            oa.appid,
            oa.admin_wxid,
            {"link_id": link.id, "mp_appid": mp.appid, "mp_name": mp.name or mp.appid, "oa_name": oa.name},
        )
        audit.record(session, now, AuditKind.UNLINK_REQUESTED, oa.appid, oa_appid=oa.appid, mp_appid=mp.appid)
        result = confirmations.view(uow, platform, confirmation, now)
        uow.commit()
        return result


def on_unlink_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    """The OA admin agreed (the link goes) or refused (it stays). A link already gone meanwhile stays gone, and
    one made again since (even under a reused id) is not the one the admin was asked about."""
    link = uow.session.get(Link, int(confirmation.payload["link_id"]))
    asked_about = link is not None and link.created_at <= confirmation.created_at
    if action == confirmations.CONFIRM and link is not None and asked_about:
        mp_appid = str(confirmation.payload.get("mp_appid", ""))
        _remove(uow.session, uow.clock.now(), link, wxid, confirmation.account_appid, mp_appid)
    return None


def _remove(session: Session, now: datetime, link: Link, actor: str, oa_appid: str, mp_appid: str) -> None:
    session.delete(link)
    audit.record(
        session, now, AuditKind.UNLINKED, actor, oa_appid=oa_appid, mp_appid=mp_appid, linked_via=link.linked_via
    )


def set_show_profile(platform: Platform, oa_appid: str, mp_appid: str, show: bool, *, actor: str | None = None) -> None:
    with platform.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        if link.status != LinkStatus.LINKED:
            raise DomainError(Err.INVALID_PARAMETER)
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


def _existing_link(
    uow: UnitOfWork, oa_appid: str, mp_appid: str, *, lock: bool = False
) -> tuple[OfficialAccount, MiniProgram, Link]:
    """The OA, the MP and their link; 40097 (WeChat documents no code for it) when they are not linked."""
    oa = find_official_account(uow.session, oa_appid)
    mp = _mp(uow, mp_appid)
    link = _link(uow, oa, mp, lock=lock)
    if link is None:
        raise DomainError(Err.INVALID_PARAMETER)
    return oa, mp, link
