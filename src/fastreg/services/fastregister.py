"""Fast registration through the Open Platform API: the authorization page's confirmation issues a
single-use ticket; ``fastregister`` spends it and runs the whole remaining path in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import Confirmation
from fastreg.adapters.db.repositories.registrations import EligibilityQuery
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, ConfirmationKind
from fastreg.domain.rules import FASTREGISTER_PERMISSION_SET, ComponentFacts, has_fastregister_permissions
from fastreg.domain.urls import on_domain
from fastreg.platform import Platform
from fastreg.services import audit, authorization, confirmations, credentials, tokens
from fastreg.services.accounts import find_component, find_official_account
from fastreg.services.completion import Completion, complete, record_refusal
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.credentials import CredentialKind
from fastreg.services.versions import VersionQuery


@dataclass(frozen=True)
class FastRegisterResult:
    appid: str
    authorization_code: str
    is_wx_verify_succ: bool
    is_link_succ: bool


class ComponentRow(Protocol):
    @property
    def published(self) -> bool: ...
    @property
    def permission_sets(self) -> list[int]: ...
    @property
    def redirect_domain(self) -> str: ...


def redirect_uri_valid(component: ComponentRow, redirect_uri: str) -> bool:
    return on_domain(redirect_uri, component.redirect_domain)


def component_facts(component: ComponentRow, redirect_uri: str | None = None) -> ComponentFacts:
    return ComponentFacts(
        published=component.published,
        has_required_permissions=has_fastregister_permissions(component.permission_sets),
        redirect_uri_valid=True if redirect_uri is None else redirect_uri_valid(component, redirect_uri),
    )


def open_auth_page(
    platform: Platform,
    oa_appid: str,
    component_appid: str,
    copy_wx_verify: bool,
    redirect_uri: str,
    *,
    opener: str | None = None,
) -> ConfirmationView:
    """Validate the fastregisterauth request (40013, 61028, 61029, 61060) and create the OA admin's
    confirmation that the page shows as a QR code (``opener``: the nonce of the browser showing it)."""
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
            uow,
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
                **confirmations.opener_entry(opener),
            },
        )
        result = confirmations.view(uow, platform, confirmation, now)
        uow.commit()
        return result


def on_auth_answered(context: Any, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
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
    return authorization.with_params(str(payload["redirect_uri"]), ticket=ticket)


def _platform_of(uow: UnitOfWork) -> Platform:
    platform: Platform = uow.platform
    return platform


def fastregister(platform: Platform, oa_appid: str, component_id: int, ticket: str) -> FastRegisterResult:
    """Fast registration for an OA and a component already identified (tests, benchmarks, the CLI)."""
    try:
        with platform.uow() as uow:
            row = uow.conn.execute(sql.OA_WITH_COMPONENT, {"appid": oa_appid, "component_id": component_id}).first()
            if row is None:
                raise DomainError(Err.INVALID_APPID)
            context = _context(row)
            result = _fastregister(uow, platform, context, ticket)
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
    42001), 48001 unless it is an OA's authorizer token, 61058 for the OA's own token (the ticket was issued
    to a component), then the registration."""
    context: RegistrationContext | None = None
    try:
        with platform.uow() as uow:
            caller, row = tokens.authenticate_with(
                uow.conn, sql.TOKEN_WITH_OA_CONTEXT, uow.clock, access_token, tokens.ACCOUNT_TOKEN_KINDS
            )
            if caller.component_id is None:
                if row.id is None:  # an MP's own token
                    raise DomainError(Err.UNAUTHORIZED_API)
                raise DomainError(Err.SCAN_INVALID)
            if row.id is None or row.component_appid is None:  # an MP's authorizer token
                raise DomainError(Err.UNAUTHORIZED_API)
            context = _context(row)
            result = _fastregister(uow, platform, context, ticket)
            uow.commit()
            return result
    except DomainError as error:
        if context is not None and error.errcode >= MIN_RULE_ERRCODE:
            record_refusal(platform, error, actor=context.component_appid, oa_appid=context.appid)
        raise


@dataclass(frozen=True)
class RegistrationContext:
    """The OA, the component acting for it and what the OA authorized it to do (one prepared query)."""

    id: int
    appid: str
    name: str
    principal_id: int
    verified: bool
    verify_expires_at: datetime | None
    overseas: bool
    admin_wxid: str
    component_id: int
    component_appid: str
    published: bool
    permission_sets: list[int]
    redirect_domain: str
    authorized_func_info: list[int] | None


_CONTEXT_FIELDS = tuple(field.name for field in fields(RegistrationContext))


def _context(row: Any) -> RegistrationContext:
    """The context from a row of ``statements.OA_WITH_COMPONENT`` or ``statements.TOKEN_WITH_OA_CONTEXT``."""
    return RegistrationContext(**{name: getattr(row, name) for name in _CONTEXT_FIELDS})


def _fastregister(uow: UnitOfWork, platform: Platform, context: RegistrationContext, ticket: str) -> FastRegisterResult:
    conn, now = uow.conn, uow.clock.now()
    with conn.batch():  # the ticket's claim and the OA's eligibility facts in one round trip
        claiming = credentials.send_claim(
            conn, now, CredentialKind.TICKET, ticket, subject=context.appid, component_id=context.component_id
        )
        eligibility = EligibilityQuery(conn, context, now, platform)
        version = VersionQuery(conn, platform)
    claimed = credentials.claimed_data(claiming)
    if claimed is not None and FASTREGISTER_PERMISSION_SET not in (context.authorized_func_info or []):
        # 授权互斥: the OA has since moved its fast-registration permission set to another component.
        raise DomainError(Err.UNAUTHORIZED_API)
    copy_wx_verify = bool(claimed and claimed.get("copy_wx_verify"))
    codes: list[str] = []

    def authorize(appid: str) -> None:
        codes.append(
            authorization.authorize_new_account(
                conn,
                now,
                context.component_id,
                appid,
                list(context.permission_sets or []),
                platform.settings.authorization_code_ttl_seconds,
            )
        )

    mp = complete(
        uow,
        platform,
        context,
        Completion(
            registration_id=None,
            channel=Channel.OPEN_API,
            reuse_certification=copy_wx_verify,
            started_at=now,
            component_id=context.component_id,
        ),
        actor=context.component_appid,
        admin_wxid=context.admin_wxid,
        scan_valid=claimed is not None,
        # The redirect URI is checked again: the component may have changed its registered domain since.
        component=component_facts(context, (claimed or {}).get("redirect_uri")),
        then=authorize,  # the new MP is authorized to the component in the same batch of writes
        eligibility=eligibility,
        version=version,
    )
    # No push announces it: WeChat documents none for this API (``notify_third_fasteregister`` belongs to the
    # enterprise and personal registration APIs); the answer carries the authorization code.
    (code,) = codes
    return FastRegisterResult(
        appid=mp.appid,
        authorization_code=code,
        is_wx_verify_succ=bool(copy_wx_verify and mp.certified),
        is_link_succ=True,
    )
