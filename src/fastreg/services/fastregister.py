"""Fast registration through the Open Platform API: the authorization page's confirmation issues a
single-use ticket; ``fastregister`` spends it and runs the whole remaining path in one transaction."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from fastreg.adapters.db.models import Component, Confirmation, OfficialAccount, Registration
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, ConfirmationKind, RegistrationStatus
from fastreg.domain.rules import ComponentFacts
from fastreg.platform import Platform
from fastreg.services import audit, confirmations, credentials, tokens
from fastreg.services.accounts import FASTREGISTER_PERMISSION_SET, find_component, find_official_account
from fastreg.services.authorization import grant_authorization, holds_fastregister_permission
from fastreg.services.completion import complete, record_refusal
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.credentials import CredentialKind


@dataclass(frozen=True)
class FastRegisterResult:
    appid: str
    authorization_code: str
    is_wx_verify_succ: bool
    is_link_succ: bool


def redirect_uri_valid(component: Component, redirect_uri: str) -> bool:
    parsed = urlparse(redirect_uri)
    return parsed.scheme in ("http", "https") and (parsed.hostname or "") == component.redirect_domain.lower()


def component_facts(component: Component, redirect_uri: str | None = None) -> ComponentFacts:
    return ComponentFacts(
        published=component.published,
        has_required_permissions=FASTREGISTER_PERMISSION_SET in (component.permission_sets or []),
        redirect_uri_valid=True if redirect_uri is None else redirect_uri_valid(component, redirect_uri),
    )


def open_auth_page(
    platform: Platform, oa_appid: str, component_appid: str, copy_wx_verify: bool, redirect_uri: str
) -> ConfirmationView:
    """Validate the fastregisterauth request (40013, 61028, 61029, 61060) and create the OA admin's
    confirmation that the page shows as a QR code."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        oa = find_official_account(session, oa_appid)
        component = find_component(session, component_appid)
        facts = component_facts(component, redirect_uri)
        if not facts.published:
            raise DomainError(Err.COMPONENT_UNPUBLISHED)
        if not facts.has_required_permissions:
            raise DomainError(Err.COMPONENT_PERMISSIONS)
        if not facts.redirect_uri_valid:
            raise DomainError(Err.INVALID_REDIRECT)
        confirmation = confirmations.create(
            session,
            now,
            platform,
            ConfirmationKind.FASTREGISTER_AUTH,
            oa.appid,
            oa.admin_wxid,
            {
                "component_id": component.id,
                "component_appid": component.appid,
                "component_name": component.name,
                "copy_wx_verify": copy_wx_verify,
                "redirect_uri": redirect_uri,
            },
        )
        result = confirmations.view(session, platform, confirmation, now)
        uow.commit()
        return result


def with_query(url: str, key: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{key}={value}"


def on_auth_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    """The OA admin confirmed: issue the single-use ticket and send the browser back with it."""
    if action != confirmations.CONFIRM:
        return None
    payload: dict[str, Any] = confirmation.payload
    platform: Platform = _platform_of(uow)
    now = uow.clock.now()
    ticket = credentials.issue(
        uow.session,
        now,
        CredentialKind.TICKET,
        confirmation.account_appid,
        platform.settings.ticket_ttl_seconds,
        component_id=int(payload["component_id"]),
        data={
            "copy_wx_verify": bool(payload["copy_wx_verify"]),
            "confirmation": confirmation.id,
            "redirect_uri": payload["redirect_uri"],
        },
    )
    audit.record(
        uow.session,
        now,
        AuditKind.TICKET_ISSUED,
        wxid,
        oa_appid=confirmation.account_appid,
        component_appid=payload["component_appid"],
    )
    return with_query(str(payload["redirect_uri"]), "ticket", ticket)


def _platform_of(uow: UnitOfWork) -> Platform:
    platform: Platform = uow.platform
    return platform


def fastregister(platform: Platform, oa_appid: str, component_id: int, ticket: str) -> FastRegisterResult:
    """Fast registration for an OA and a component already identified (tests, benchmarks, the CLI)."""
    try:
        with platform.uow() as uow:
            result = _fastregister(uow, platform, find_official_account(uow.session, oa_appid), component_id, ticket)
            uow.commit()
            return result
    except DomainError as error:
        if error.errcode >= MIN_RULE_ERRCODE:
            record_refusal(platform, error, actor=f"component:{component_id}", oa_appid=oa_appid)
        raise


# Refusals by the fast-registration rules (61xxx) are audited; token and format errors are not.
MIN_RULE_ERRCODE = 61000


def fastregister_with_token(platform: Platform, access_token: str | None, ticket: str) -> FastRegisterResult:
    """The whole of ``POST /cgi-bin/account/fastregister`` in one transaction: the token first (41001, 40001,
    42001), 48001 unless it is an OA's token, 61058 for the OA's own token (the ticket was issued to a
    component), then the registration."""
    oa_appid: str | None = None
    try:
        with platform.uow() as uow:
            session, now = uow.session, uow.clock.now()
            caller = tokens.authenticate(session, now, access_token, tokens.ACCOUNT_TOKEN_KINDS)
            oa = session.execute(
                select(OfficialAccount).where(OfficialAccount.appid == caller.appid)
            ).scalar_one_or_none()
            if oa is None:
                raise DomainError(Err.UNAUTHORIZED_API)
            oa_appid = oa.appid
            if caller.component_id is None:
                raise DomainError(Err.SCAN_INVALID)
            result = _fastregister(uow, platform, oa, caller.component_id, ticket)
            uow.commit()
            return result
    except DomainError as error:
        if oa_appid is not None and error.errcode >= MIN_RULE_ERRCODE:
            record_refusal(platform, error, actor="open_api", oa_appid=oa_appid)
        raise


def _fastregister(
    uow: UnitOfWork, platform: Platform, oa: OfficialAccount, component_id: int, ticket: str
) -> FastRegisterResult:
    session, now = uow.session, uow.clock.now()
    component = session.get(Component, component_id)
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    claimed = credentials.claim(
        session, now, CredentialKind.TICKET, ticket, subject=oa.appid, component_id=component.id
    )
    scan_valid = claimed is not None
    if scan_valid and not holds_fastregister_permission(session, component.id, oa.appid):
        # 授权互斥: the OA has since moved its fast-registration permission set to another component.
        raise DomainError(Err.UNAUTHORIZED_API)
    copy_wx_verify = bool(claimed and claimed.get("copy_wx_verify"))
    registration = Registration(
        oa_id=oa.id,
        channel=Channel.OPEN_API.value,
        status=RegistrationStatus.PENDING.value,
        reuse_certification=copy_wx_verify,
        reuse_operator=False,
        component_id=component.id,
        created_at=now,
        updated_at=now,
    )
    mp = complete(
        uow,
        platform,
        oa,
        registration,
        actor=component.appid,
        admin_wxid=oa.admin_wxid,
        scan_valid=scan_valid,
        # The redirect URI is checked again: the component may have changed its registered domain since.
        component=component_facts(component, (claimed or {}).get("redirect_uri")),
    )
    code = grant_authorization(
        session,
        now,
        component.id,
        mp.appid,
        list(component.permission_sets or []),
        platform.settings.authorization_code_ttl_seconds,
    )
    _notify_component(uow, platform, component, oa, mp.appid, code)
    return FastRegisterResult(
        appid=mp.appid,
        authorization_code=code,
        is_wx_verify_succ=bool(copy_wx_verify and mp.certified),
        is_link_succ=True,
    )


def _notify_component(
    uow: UnitOfWork, platform: Platform, component: Component, oa: OfficialAccount, mp_appid: str, code: str
) -> None:
    """Queue the fast-registration event for the component's callback, when the push queue is present."""
    if not component.callback_url or importlib.util.find_spec("fastreg.services.pushes") is None:
        return
    from fastreg.services import pushes

    enqueue = getattr(pushes, "enqueue_fastregister_event", None)
    if enqueue is not None:
        enqueue(uow.session, uow.clock.now(), component, oa_appid=oa.appid, mp_appid=mp_appid, auth_code=code)
