"""Fast registration through the Open Platform API: the authorization page's confirmation issues a
single-use ticket; ``fastregister`` spends it and runs the whole remaining path in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fastreg.domain import secrets
from fastreg.domain.entities import Confirmation
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, ConfirmationKind
from fastreg.domain.rules import (
    FASTREGISTER_PERMISSION_SET,
    ComponentFacts,
    has_fastregister_permissions,
    monthly_limit,
)
from fastreg.domain.urls import on_domain
from fastreg.services import audit, authorization, confirmations, credentials, tokens
from fastreg.services.accounts import component_of
from fastreg.services.authorization import new_refresh_token_columns
from fastreg.services.completion import (
    Completion,
    NewAuthorization,
    complete,
    facts_query,
    quota_spend,
    record_refusal,
)
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.credentials import CredentialKind
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.ports.credentials import FastRegisterContext, TicketClaim


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
    context: Context,
    oa_appid: str,
    component_appid: str,
    copy_wx_verify: bool,
    redirect_uri: str,
    *,
    opener: str | None = None,
) -> ConfirmationView:
    """Validate the fastregisterauth request (40013, 61028, 61029, 61060) and create the OA admin's
    confirmation that the page shows as a QR code (``opener``: the nonce of the browser showing it)."""
    with context.uow() as uow:
        now = uow.clock.now()
        oa = uow.accounts.official_account(oa_appid)
        component = component_of(uow, component_appid)
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
            context,
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
        result = confirmations.view(uow, context, confirmation, now)
        uow.commit()
        return result


def on_auth_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    """The OA admin confirmed: issue the single-use ticket and send the browser back with it."""
    if action != confirmations.CONFIRM:
        return None
    payload: dict[str, Any] = confirmation.payload
    now = uow.clock.now()
    ticket = credentials.issue(
        uow.credentials,
        now,
        CredentialKind.TICKET,
        confirmation.account_appid,
        context.settings.ticket_ttl_seconds,
        component_id=int(payload["component_id"]),
        data={
            "copy_wx_verify": bool(payload["copy_wx_verify"]),
            "confirmation": confirmation.id,
            "redirect_uri": payload["redirect_uri"],
        },
    )
    audit.record(
        uow.audit,
        now,
        AuditKind.TICKET_ISSUED,
        wxid,
        oa_appid=confirmation.account_appid,
        component_appid=payload["component_appid"],
    )
    return authorization.with_params(str(payload["redirect_uri"]), ticket=ticket)


def fastregister(context: Context, oa_appid: str, component_id: int, ticket: str) -> FastRegisterResult:
    """Fast registration for an OA and a component already identified (tests, benchmarks, the CLI)."""
    try:
        with context.uow() as uow:
            found = uow.fastregister.context(oa_appid, component_id)
            if found is None:
                raise DomainError(Err.INVALID_APPID)
            result = _fastregister(uow, context, found, ticket)
            uow.commit()
            return result
    except DomainError as error:
        if error.errcode >= MIN_RULE_ERRCODE:
            record_refusal(context, error, actor=f"component:{component_id}", oa_appid=oa_appid)
        raise


# Refusals by the fast-registration rules (61xxx) are audited; token and format errors are not.
MIN_RULE_ERRCODE = 61000


def fastregister_with_token(context: Context, access_token: str | None, ticket: str) -> FastRegisterResult:
    """The whole of ``POST /cgi-bin/account/fastregister`` in one transaction: the token first (41001, 40001,
    42001), 48001 unless it is an OA's authorizer token, 61058 for the OA's own token (the ticket was issued
    to a component), then the registration."""
    acting: FastRegisterContext | None = None
    try:
        with context.uow() as uow:
            opened = uow.fastregister.open_with_token(tokens.token_digest(access_token))
            caller = tokens.caller_of(opened.credential, uow.clock.now(), tokens.ACCOUNT_TOKEN_KINDS)
            if caller.component_id is None:  # the account's own token
                raise DomainError(Err.SCAN_INVALID if opened.for_oa else Err.UNAUTHORIZED_API)
            if opened.context is None:  # an MP's authorizer token
                raise DomainError(Err.UNAUTHORIZED_API)
            acting = opened.context
            result = _fastregister(uow, context, acting, ticket)
            uow.commit()
            return result
    except DomainError as error:
        if acting is not None and error.errcode >= MIN_RULE_ERRCODE:
            record_refusal(context, error, actor=acting.component_appid, oa_appid=acting.appid)
        raise


def _fastregister(uow: UnitOfWork, context: Context, acting: FastRegisterContext, ticket: str) -> FastRegisterResult:
    now = uow.clock.now()
    # The ticket's claim, the OA's eligibility facts and the quota's spending in one round trip (the monthly
    # limit is the principal's, read with the token); a refusal below rolls the spending back with the claim.
    claim = TicketClaim(secrets.token_hash(ticket), CredentialKind.TICKET.value, acting.appid, acting.component_id)
    query = facts_query(context, acting, now)
    spend = quota_spend(context, acting, query.month, monthly_limit(acting.principal_type, context.limits))
    answer = uow.fastregister.claim_and_facts(claim, query, spend)
    claimed = answer.claimed
    if claimed is not None and FASTREGISTER_PERMISSION_SET not in (acting.authorized_func_info or []):
        # 授权互斥: the OA has since moved its fast-registration permission set to another component.
        raise DomainError(Err.UNAUTHORIZED_API)
    copy_wx_verify = bool(claimed and claimed.get("copy_wx_verify"))
    mp = complete(
        uow,
        context,
        acting,
        Completion(
            registration_id=None,
            channel=Channel.OPEN_API,
            reuse_certification=copy_wx_verify,
            started_at=now,
            component_id=acting.component_id,
        ),
        actor=acting.component_appid,
        admin_wxid=acting.admin_wxid,
        scan_valid=claimed is not None,
        # The redirect URI is checked again: the component may have changed its registered domain since.
        component=component_facts(acting, (claimed or {}).get("redirect_uri")),
        facts=answer.facts,
        spent=answer.spent,
        # The new MP is authorized to the component in the same batch of writes.
        authorize=NewAuthorization(
            component_id=acting.component_id,
            func_info=list(acting.permission_sets or []),
            code_ttl_seconds=context.settings.authorization_code_ttl_seconds,
            **new_refresh_token_columns(),
        ),
    )
    # No push announces it: WeChat documents none for this API (``notify_third_fasteregister`` belongs to the
    # enterprise and personal registration APIs); the answer carries the authorization code.
    assert mp.authorization_code is not None
    return FastRegisterResult(
        appid=mp.appid,
        authorization_code=mp.authorization_code,
        is_wx_verify_succ=bool(copy_wx_verify and mp.certified),
        is_link_succ=True,
    )
