"""Links between an OA and MPs: listing (wxamplinkget), ordinary links confirmed by both admins and counted
toward 13 a month (wxamplink), unlinking (wxampunlink, which the OA admin must agree to; the console's operator
unlinks at once) and the show-on-profile switch.

While a link or unlink request waits for an admin, asking again is refused (89010 / 89018); once its
confirmation has expired unanswered, the request is stale and a new one may be made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastreg.domain.entities import Confirmation, Link, MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind, LinkedVia, LinkStatus
from fastreg.domain.rules import calendar_month, ensure_link_allowed, ordinary_link
from fastreg.services import audit, confirmations
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.ports import Context, UnitOfWork


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


def _oa(uow: UnitOfWork, appid: str) -> OfficialAccount:
    return uow.accounts.official_account(appid)


def _mp(uow: UnitOfWork, appid: str) -> MiniProgram:
    mp = uow.accounts.find_mini_program(appid)
    if mp is None:
        raise DomainError(Err.INVALID_APPID)
    return mp


def _awaiting_answer(uow: UnitOfWork, now: datetime, kind: ConfirmationKind, account_appid: str, link: Link) -> bool:
    """Whether a confirmation of this kind about this link is still waiting for its admin."""
    pending = uow.confirmations.pending(kind, account_appid, now)
    return any(int(confirmation.payload.get("link_id", 0)) == link.id for confirmation in pending)


def _link_request_waiting(uow: UnitOfWork, now: datetime, oa: OfficialAccount, mp: MiniProgram, link: Link) -> bool:
    if link.status == LinkStatus.WAITING_OA_ADMIN:
        return _awaiting_answer(uow, now, ConfirmationKind.LINK_OA_ADMIN, oa.appid, link)
    return _awaiting_answer(uow, now, ConfirmationKind.LINK_MP_ADMIN, mp.appid, link)


def list_links(context: Context, oa_appid: str) -> list[LinkView]:
    with context.uow(readonly=True) as uow:
        oa = _oa(uow, oa_appid)
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
            for link, mp in uow.links.of_oa(oa.id)
        ]


def _ask_oa_admin(
    context: Context,
    uow: UnitOfWork,
    kind: ConfirmationKind,
    requested: AuditKind,
    oa: OfficialAccount,
    mp: MiniProgram,
    link: Link,
) -> ConfirmationView:
    """The OA admin's confirmation of a link or unlink request, and the request's audit event."""
    now = uow.clock.now()
    confirmation = confirmations.new(
        context,
        now,
        kind,
        oa.appid,
        oa.admin_wxid,
        {"link_id": link.id, "mp_appid": mp.appid, "mp_name": mp.name or mp.appid, "oa_name": oa.name},
    )
    uow.confirmations.add(confirmation)
    audit.record(uow.audit, now, requested, oa.appid, oa_appid=oa.appid, mp_appid=mp.appid)
    return confirmations.view_named(context, confirmation, now, oa.name or oa.appid)


def request_link(
    context: Context, oa_appid: str, mp_appid: str, notify_users: bool, show_profile: bool
) -> ConfirmationView:
    """Start an ordinary link: the OA admin confirms first (status 12), then the MP admin (status 2 → 1)."""
    with context.uow() as uow:
        now = uow.clock.now()
        oa = _oa(uow, oa_appid)
        mp = _mp(uow, mp_appid)
        existing = uow.links.lock(oa.id, mp.id)
        if existing is not None:
            if existing.status == LinkStatus.LINKED:
                raise DomainError(Err.LINK_EXISTS)
            if existing.status in _WAITING and _link_request_waiting(uow, now, oa, mp, existing):
                raise DomainError(Err.LINK_PENDING)
        month = calendar_month(now, context.settings.timezone)
        ensure_link_allowed(uow.counters.links_used(oa.id, month), context.limits)
        terms = ordinary_link(notify_users, show_profile)
        if existing is not None:
            uow.links.remove(existing)
        link = uow.links.add(
            Link(
                oa_id=oa.id,
                mp_id=mp.id,
                status=LinkStatus.WAITING_OA_ADMIN.value,
                linked_via=LinkedVia.LINK.value,
                show_profile=terms.show_profile,
                notify_users=terms.notify_users,
                created_at=now,
                linked_at=None,
            )
        )
        result = _ask_oa_admin(context, uow, ConfirmationKind.LINK_OA_ADMIN, AuditKind.LINK_REQUESTED, oa, mp, link)
        uow.commit()
        return result


def _link_of(uow: UnitOfWork, confirmation: Confirmation) -> Link:
    link = uow.links.link_by_id(int(confirmation.payload["link_id"]))
    if link is None:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    return link


def on_oa_admin_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    link = _link_of(uow, confirmation)
    if link.status != LinkStatus.WAITING_OA_ADMIN:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action != confirmations.CONFIRM:
        uow.links.remove(link)
        return None
    now = uow.clock.now()
    mp = uow.accounts.mini_program_by_id(link.mp_id)
    assert mp is not None
    # The link counts toward the month's 13 once the OA admin commits to it; the count is atomic.
    month = calendar_month(now, context.settings.timezone)
    limit = context.limits.links_monthly
    if not uow.counters.try_count_link(link.oa_id, month, limit):
        raise DomainError(Err.LINK_LIMIT, limit=limit)
    link.status = LinkStatus.WAITING_MP_ADMIN.value
    uow.confirmations.add(
        confirmations.new(
            context,
            now,
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
    )
    return None


def on_mp_admin_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    link = _link_of(uow, confirmation)
    if link.status != LinkStatus.WAITING_MP_ADMIN:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    now = uow.clock.now()
    if action == confirmations.CONFIRM:
        link.status = LinkStatus.LINKED.value
        link.linked_at = now
        audit.record(
            uow.audit,
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


def unlink(context: Context, oa_appid: str, mp_appid: str, *, actor: str | None = None) -> None:
    """The console's operator unlinks at once; a fast-registered MP keeps existing with its principal."""
    with context.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        _remove(uow, link, actor or oa.appid, oa.appid, mp.appid)
        uow.commit()


def request_unlink(context: Context, oa_appid: str, mp_appid: str) -> ConfirmationView:
    """wxampunlink: the OA admin is asked to agree; the link stays (status 1) until they do, and a cancel
    keeps it. 89018 while an earlier request waits for the admin."""
    with context.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid, lock=True)
        if link.status != LinkStatus.LINKED:
            raise DomainError(Err.INVALID_PARAMETER)
        if _awaiting_answer(uow, uow.clock.now(), ConfirmationKind.UNLINK_OA_ADMIN, oa.appid, link):
            raise DomainError(Err.UNLINK_PENDING)
        result = _ask_oa_admin(context, uow, ConfirmationKind.UNLINK_OA_ADMIN, AuditKind.UNLINK_REQUESTED, oa, mp, link)
        uow.commit()
        return result


def on_unlink_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    """The OA admin agreed (the link goes) or refused (it stays). A link already gone meanwhile stays gone, and
    one made again since (even under a reused id) is not the one the admin was asked about."""
    link = uow.links.link_by_id(int(confirmation.payload["link_id"]))
    asked_about = link is not None and link.created_at <= confirmation.created_at
    if action == confirmations.CONFIRM and link is not None and asked_about:
        mp_appid = str(confirmation.payload.get("mp_appid", ""))
        _remove(uow, link, wxid, confirmation.account_appid, mp_appid)
    return None


def _remove(uow: UnitOfWork, link: Link, actor: str, oa_appid: str, mp_appid: str) -> None:
    uow.links.remove(link)
    audit.record(
        uow.audit,
        uow.clock.now(),
        AuditKind.UNLINKED,
        actor,
        oa_appid=oa_appid,
        mp_appid=mp_appid,
        linked_via=link.linked_via,
    )


def set_show_profile(context: Context, oa_appid: str, mp_appid: str, show: bool, *, actor: str | None = None) -> None:
    with context.uow() as uow:
        oa, mp, link = _existing_link(uow, oa_appid, mp_appid)
        if link.status != LinkStatus.LINKED:
            raise DomainError(Err.INVALID_PARAMETER)
        link.show_profile = show
        audit.record(
            uow.audit,
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
    oa = _oa(uow, oa_appid)
    mp = _mp(uow, mp_appid)
    link = uow.links.lock(oa.id, mp.id) if lock else uow.links.link(oa.id, mp.id)
    if link is None:
        raise DomainError(Err.INVALID_PARAMETER)
    return oa, mp, link
