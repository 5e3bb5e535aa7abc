"""Authorizations of accounts (OA or MP) to components: the consent page's confirmation, authorization codes,
``api_query_auth``, refresh tokens, authorizer info, and 授权互斥 for the fast-registration permission set
(one component per account at a time: authorizing a second one moves the set).

Authorization codes stay valid until they expire (600 s, WeChat's ``expires_in=600``) and may be exchanged more
than once (the consent redirect and the ``authorized`` push carry the same code). An authorization has one refresh
token, which ``api_query_auth``, ``api_get_authorizer_info`` and ``api_get_authorizer_list`` all return: it is
derived from a random seed stored with the authorization and the platform's secret key, so the database alone
never shows it. Authorizing again draws a new seed: the earlier refresh token stops working (61023).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastreg.domain import secrets
from fastreg.domain.clock import as_utc
from fastreg.domain.entities import Authorization, Component, Confirmation, MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, ConfirmationKind
from fastreg.domain.rules import FASTREGISTER_PERMISSION_SET
from fastreg.domain.urls import on_domain
from fastreg.services import audit, confirmations, credentials, pushes
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.tokens import Caller, component_of

REFRESH_TOKEN_PREFIX = "refreshtoken@@@"
# api_get_authorizer_list: at most this many authorizers per call.
AUTHORIZER_LIST_MAX = 500
# api_get_authorizer_info ``register_type``: 0 registered the ordinary way, 2 by account/fastregister.
REGISTER_TYPE_ORDINARY, REGISTER_TYPE_FASTREGISTER = 0, 2
ACCOUNT_STATUS_NORMAL = 1

# componentloginpage ``auth_type``: 1 Official Accounts only, 2 Mini Programs only, 3 both (default).
AUTH_TYPE_OA, AUTH_TYPE_MP, AUTH_TYPE_BOTH = 1, 2, 3


def func_info_json(func_info: list[Any]) -> list[dict[str, Any]]:
    return [{"funcscope_category": {"id": int(n)}} for n in func_info]


def new_refresh_token_columns() -> dict[str, str]:
    """A new refresh token for an authorization (by its seed); the digest of an earlier one is dropped."""
    return {"refresh_token_seed": secrets.new_secret(), "refresh_token_hash": secrets.token_hash(secrets.new_token())}


def _renew_refresh_token(authorization: Authorization) -> None:
    columns = new_refresh_token_columns()
    authorization.refresh_token_seed = columns["refresh_token_seed"]
    authorization.refresh_token_hash = columns["refresh_token_hash"]


def _new_authorization(now: datetime, component_id: int, authorizer_appid: str, func_info: list[int]) -> Authorization:
    authorization = Authorization(
        component_id=component_id,
        authorizer_appid=authorizer_appid,
        func_info=list(func_info),
        created_at=now,
        authorized_at=now,
        refresh_token_seed="",
        refresh_token_hash="",
    )
    _renew_refresh_token(authorization)
    return authorization


def refresh_token_of(context: Context, authorization: Authorization) -> str:
    seed = f"{authorization.component_id}:{authorization.authorizer_appid}:{authorization.refresh_token_seed}"
    return REFRESH_TOKEN_PREFIX + secrets.derived_token(context.secret_key, "authorizer-refresh-token", seed)


def refresh_token_valid(context: Context, authorization: Authorization, raw: str) -> bool:
    """The authorization's current refresh token (or the one issued before they were derived)."""
    return secrets.secrets_equal(raw, refresh_token_of(context, authorization)) or secrets.secrets_equal(
        secrets.token_hash(raw), authorization.refresh_token_hash
    )


def grant_authorization(
    context: Context,
    uow: UnitOfWork,
    component_id: int,
    authorizer_appid: str,
    func_info: list[int],
    ttl_seconds: int,
) -> str:
    """Record (or renew) the authorization and return a fresh authorization code for api_query_auth. Renewing
    replaces the refresh token.

    授权互斥: when ``func_info`` holds the fast-registration permission set, every other component loses it
    for this account (and is told so by an ``updateauthorized`` push)."""
    now = uow.clock.now()
    moves_the_set = FASTREGISTER_PERMISSION_SET in func_info
    if moves_the_set:
        uow.authorizations.lock_authorizer(authorizer_appid)
    authorization = uow.authorizations.authorization(component_id, authorizer_appid)
    if authorization is None:
        uow.authorizations.add(_new_authorization(now, component_id, authorizer_appid, func_info))
    else:
        authorization.func_info = list(func_info)
        authorization.authorized_at = now
        _renew_refresh_token(authorization)
    if moves_the_set:
        for other in uow.authorizations.of_authorizer(authorizer_appid):
            if other.component_id == component_id or FASTREGISTER_PERMISSION_SET not in (other.func_info or []):
                continue
            other.func_info = [n for n in other.func_info if n != FASTREGISTER_PERMISSION_SET]
            other_component = uow.components.component_by_id(other.component_id)
            if other_component is not None and other_component.callback_url:
                code = _issue_code(uow, now, other.component_id, authorizer_appid, ttl_seconds)
                pushes.enqueue_authorization_event(
                    uow.pushes, now, other_component, "updateauthorized", authorizer_appid, code, ttl_seconds
                )
    return _issue_code(uow, now, component_id, authorizer_appid, ttl_seconds)


def _issue_code(uow: UnitOfWork, now: datetime, component_id: int, authorizer_appid: str, ttl_seconds: int) -> str:
    return credentials.issue(
        uow.credentials, now, CredentialKind.AUTH_CODE, authorizer_appid, ttl_seconds, component_id=component_id
    )


# ---------------------------------------------------------------- the consent page (componentloginpage)


@dataclass(frozen=True)
class ConsentRequest:
    component_appid: str
    component_name: str
    account_appid: str
    account_name: str
    confirmation_id: str
    confirmation_url: str
    expires_at: datetime


def _account(uow: UnitOfWork, appid: str) -> OfficialAccount | MiniProgram | None:
    return uow.accounts.find_official_account(appid) or uow.accounts.find_mini_program(appid)


def redirect_allowed(component: Component, redirect_uri: str) -> bool:
    return on_domain(redirect_uri, component.redirect_domain)


def check_consent_request(uow: UnitOfWork, component_appid: str, pre_auth_code: str, redirect_uri: str) -> Component:
    """Validate the consent page's parameters: known component (40013), a live pre-auth code issued to it
    (40029), a redirect URI on the component's registered domain (61060)."""
    component = uow.components.component(component_appid)
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    found = credentials.find(uow.credentials, uow.clock.now(), CredentialKind.PRE_AUTH_CODE, pre_auth_code)
    if found.status is not Lookup.OK or found.credential is None or found.credential.component_id != component.id:
        raise DomainError(Err.INVALID_CODE)
    if not redirect_allowed(component, redirect_uri):
        raise DomainError(Err.INVALID_REDIRECT)
    return component


def open_consent(
    context: Context,
    component_appid: str,
    pre_auth_code: str,
    redirect_uri: str,
    auth_type: int,
    biz_appid: str,
    *,
    opener: str | None = None,
) -> ConsentRequest:
    """The consent page for one account (``biz_appid``): a confirmation only that account's admin may answer
    (``opener``: the nonce of the browser showing it)."""
    with context.uow() as uow:
        now = uow.clock.now()
        component = check_consent_request(uow, component_appid, pre_auth_code, redirect_uri)
        account = _account(uow, biz_appid)
        if account is None or not account.admin_wxid:
            raise DomainError(Err.INVALID_APPID)
        is_oa = isinstance(account, OfficialAccount)
        if (auth_type == AUTH_TYPE_OA and not is_oa) or (auth_type == AUTH_TYPE_MP and is_oa):
            raise DomainError(Err.INVALID_APPID)
        confirmation = confirmations.new(
            context,
            now,
            ConfirmationKind.COMPONENT_AUTH,
            account.appid,
            account.admin_wxid,
            {
                "component_id": component.id,
                "component_appid": component.appid,
                "component_name": component.name,
                "redirect_uri": redirect_uri,
                "pre_auth_code_hash": secrets.token_hash(pre_auth_code),
                "func_info": list(component.permission_sets or []),
                **confirmations.opener_entry(opener),
            },
        )
        uow.confirmations.add(confirmation)
        result = ConsentRequest(
            component_appid=component.appid,
            component_name=component.name,
            account_appid=account.appid,
            account_name=account.name or account.appid,
            confirmation_id=confirmations.public_id(context, confirmation),
            confirmation_url=confirmations.url_for(context, confirmation),
            expires_at=confirmation.expires_at,
        )
        uow.commit()
        return result


def with_params(url: str, **params: str | int) -> str:
    """``url`` with ``params`` appended to its query (``?`` or ``&`` as it needs), before any ``#fragment``."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query.rstrip("&"), urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))


def on_component_auth(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    """The account's admin answered the consent page: on confirm, authorize the component and send the
    browser to ``redirect_uri?auth_code=CODE&expires_in=600``; a cancel authorizes nothing."""
    if action != confirmations.CONFIRM:
        return None
    now = uow.clock.now()
    payload: dict[str, Any] = dict(confirmation.payload or {})
    component = uow.components.component_by_id(int(payload["component_id"]))
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    ttl = context.settings.authorization_code_ttl_seconds
    func_info = [int(n) for n in payload.get("func_info", component.permission_sets or [])]
    appid = confirmation.account_appid
    code = grant_authorization(context, uow, component.id, appid, func_info, ttl)
    pushes.enqueue_authorization_event(uow.pushes, now, component, "authorized", appid, code, ttl)
    audit.record(uow.audit, now, AuditKind.COMPONENT_AUTHORIZED, wxid, oa_appid=appid, component_appid=component.appid)
    return with_params(str(payload["redirect_uri"]), auth_code=code, expires_in=ttl)


# ---------------------------------------------------------------- api_query_auth / api_authorizer_token


def _issue_access_token(context: Context, uow: UnitOfWork, authorization: Authorization) -> str:
    return credentials.issue(
        uow.credentials,
        uow.clock.now(),
        CredentialKind.AUTHORIZER_TOKEN,
        authorization.authorizer_appid,
        context.settings.token_ttl_seconds,
        component_id=authorization.component_id,
    )


def query_auth(context: Context, caller: Caller, component_appid: str, authorization_code: str) -> dict[str, Any]:
    """``api_query_auth``: exchange an authorization code for the authorizer's access token and the
    authorization's refresh token; 61009 for a code unknown to this component, 61010 for an expired one."""
    with context.uow() as uow:
        component = component_of(uow, caller, component_appid)
        found = credentials.find(uow.credentials, uow.clock.now(), CredentialKind.AUTH_CODE, authorization_code)
        credential = found.credential
        if credential is None or credential.component_id != component.id:
            raise DomainError(Err.INVALID_AUTH_CODE)
        if found.status is Lookup.EXPIRED:
            raise DomainError(Err.AUTH_CODE_EXPIRED)
        authorization = uow.authorizations.authorization(component.id, credential.subject)
        if found.status is not Lookup.OK or authorization is None:
            raise DomainError(Err.INVALID_AUTH_CODE)
        info = {
            "authorizer_appid": authorization.authorizer_appid,
            "authorizer_access_token": _issue_access_token(context, uow, authorization),
            "expires_in": context.settings.token_ttl_seconds,
            "authorizer_refresh_token": refresh_token_of(context, authorization),
            "func_info": func_info_json(authorization.func_info or []),
        }
        uow.commit()
        return {"authorization_info": info}


def refresh_authorizer_token(
    context: Context, caller: Caller, component_appid: str, authorizer_appid: str, refresh_token: str
) -> dict[str, Any]:
    """``api_authorizer_token``: a new authorizer access token for the authorization's current refresh token
    (which stays valid until the account authorizes the component again)."""
    with context.uow() as uow:
        component = component_of(uow, caller, component_appid)
        authorization = uow.authorizations.authorization(component.id, authorizer_appid)
        if authorization is None or not refresh_token_valid(context, authorization, refresh_token):
            raise DomainError(Err.INVALID_REFRESH_TOKEN)
        access = _issue_access_token(context, uow, authorization)
        uow.commit()
        return {
            "authorizer_access_token": access,
            "expires_in": context.settings.token_ttl_seconds,
            "authorizer_refresh_token": refresh_token,
        }


def authorizer_info(context: Context, caller: Caller, component_appid: str, authorizer_appid: str) -> dict[str, Any]:
    """``api_get_authorizer_info``: the account's public profile and what it authorized the component to do."""
    with context.uow(readonly=True) as uow:
        component = component_of(uow, caller, component_appid)
        authorization = uow.authorizations.authorization(component.id, authorizer_appid)
        account = _account(uow, authorizer_appid)
        if authorization is None or account is None:
            raise DomainError(Err.INVALID_APPID)
        principal = uow.accounts.principal(account.principal_id)
        return {
            "authorizer_info": _profile(account, principal.name, uow.clock.now()),
            "authorization_info": {
                "authorizer_appid": authorizer_appid,
                "authorizer_refresh_token": refresh_token_of(context, authorization),
                "func_info": func_info_json(authorization.func_info or []),
            },
        }


def _profile(account: OfficialAccount | MiniProgram, principal_name: str, now: datetime) -> dict[str, Any]:
    """``authorizer_info`` as WeChat answers it (field order included); ``MiniProgramInfo`` for an MP only."""
    if isinstance(account, OfficialAccount):
        verified = account.verified and (account.verify_expires_at is None or account.verify_expires_at > now)
        service_type, register_type, email = 2, REGISTER_TYPE_ORDINARY, True  # an OA's operator logs in by email
    else:
        verified = account.certified and (account.certified_until is None or account.certified_until > now)
        service_type, email = 0, bool(account.email)
        fast_registered = account.created_via == Channel.OPEN_API.value
        register_type = REGISTER_TYPE_FASTREGISTER if fast_registered else REGISTER_TYPE_ORDINARY
    info: dict[str, Any] = {
        "nick_name": account.name or "",
        "head_img": "",
        "service_type_info": {"id": service_type},
        "verify_type_info": {"id": 0 if verified else -1},
        "user_name": account.original_id,
        "alias": "",
        "qrcode_url": "",
        "business_info": {"open_pay": 0, "open_shake": 0, "open_scan": 0, "open_card": 0, "open_store": 0},
        "idc": 1,
        "principal_name": principal_name,
        "signature": "",
    }
    if isinstance(account, MiniProgram):
        domains = ("RequestDomain", "WsRequestDomain", "UploadDomain", "DownloadDomain", "BizDomain", "UDPDomain")
        info["MiniProgramInfo"] = {
            "network": {name: [] for name in (*domains, "TCPDomain")},
            "categories": [],
            "visit_status": 0,
        }
    info["register_type"] = register_type
    info["account_status"] = ACCOUNT_STATUS_NORMAL
    # An admin binds the account with their WeChat, which carries a phone number.
    info["basic_config"] = {"is_phone_configured": bool(account.admin_wxid), "is_email_configured": email}
    return info


def authorizer_list(context: Context, caller: Caller, component_appid: str, offset: int, count: int) -> dict[str, Any]:
    """``api_get_authorizer_list``: the accounts that authorized the component (fast-registered MPs included),
    oldest first, ``count`` (1–500) from ``offset``: 40170 over 500, 40097 below 1 or for a negative offset."""
    if count > AUTHORIZER_LIST_MAX:
        raise DomainError(Err.COUNT_LIMIT)
    if offset < 0 or count < 1:
        raise DomainError(Err.INVALID_PARAMETER)
    with context.uow(readonly=True) as uow:
        component = component_of(uow, caller, component_appid)
        total, page = uow.authorizations.page(component.id, offset, count)
        return {
            "total_count": total,
            "list": [
                {
                    "authorizer_appid": authorization.authorizer_appid,
                    "refresh_token": refresh_token_of(context, authorization),
                    "auth_time": int(as_utc(authorization.authorized_at).timestamp()),
                }
                for authorization in page
            ],
        }


def is_official_account(uow: UnitOfWork, appid: str) -> bool:
    return uow.accounts.find_official_account(appid) is not None


def authorize_new_account(
    uow: UnitOfWork, now: datetime, component_id: int, appid: str, func_info: list[int], ttl_seconds: int
) -> str:
    """Authorize a just-created account (a fast-registered MP) to the component that registered it, and return
    the authorization code for ``api_query_auth``. Two inserts: a new account has no earlier authorization and
    no other component to take the fast-registration permission set from (授权互斥)."""
    uow.authorizations.add(_new_authorization(now, component_id, appid, func_info))
    return _issue_code(uow, now, component_id, appid, ttl_seconds)
