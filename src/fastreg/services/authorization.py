"""Authorizations of accounts (OA or MP) to components: the consent page's confirmation, authorization codes,
``api_query_auth``, refresh tokens, authorizer info, and 授权互斥 for the fast-registration permission set
(one component per account at a time: authorizing a second one moves the set).

Authorization codes stay valid until they expire (3600 s) and may be exchanged more than once (the consent
redirect and the ``authorized`` push carry the same code). Refresh tokens are stored hashed, like every
bearer secret; each exchange issues a new one and the older ones keep working until the authorization ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import (
    Authorization,
    Component,
    Confirmation,
    MiniProgram,
    OfficialAccount,
    Principal,
)
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import PRINCIPAL_TYPE_CODES, AuditKind, ConfirmationKind, PrincipalType
from fastreg.domain.urls import on_domain
from fastreg.platform import Platform
from fastreg.services import audit, credentials
from fastreg.services.accounts import FASTREGISTER_PERMISSION_SET
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.services.tokens import Caller, component_of

# Refresh tokens last as long as the authorization (WeChat's never expire); stored with a far expiry.
REFRESH_TOKEN_TTL_SECONDS = 10 * 365 * 24 * 3600

# componentloginpage ``auth_type``: 1 Official Accounts only, 2 Mini Programs only, 3 both (default).
AUTH_TYPE_OA, AUTH_TYPE_MP, AUTH_TYPE_BOTH = 1, 2, 3


def func_info_json(func_info: list[Any]) -> list[dict[str, Any]]:
    return [{"funcscope_category": {"id": int(n)}} for n in func_info]


def _authorization(session: Session, component_id: int, authorizer_appid: str) -> Authorization | None:
    return session.execute(
        select(Authorization).where(
            Authorization.component_id == component_id, Authorization.authorizer_appid == authorizer_appid
        )
    ).scalar_one_or_none()


def grant_authorization(
    session: Session, now: datetime, component_id: int, authorizer_appid: str, func_info: list[int], ttl_seconds: int
) -> str:
    """Record (or refresh) the authorization and return a fresh authorization code for api_query_auth.

    授权互斥: when ``func_info`` holds the fast-registration permission set, every other component loses it
    for this account (and is told so by an ``updateauthorized`` push)."""
    from fastreg.services import pushes

    authorization = _authorization(session, component_id, authorizer_appid)
    if authorization is None:
        session.add(
            Authorization(
                component_id=component_id,
                authorizer_appid=authorizer_appid,
                # A placeholder until api_query_auth issues the real refresh token.
                refresh_token_hash=crypto.token_hash(crypto.new_token()),
                func_info=list(func_info),
                created_at=now,
            )
        )
    else:
        authorization.func_info = list(func_info)
    if FASTREGISTER_PERMISSION_SET in func_info:
        others = session.execute(
            select(Authorization).where(
                Authorization.authorizer_appid == authorizer_appid, Authorization.component_id != component_id
            )
        ).scalars()
        for other in others:
            if FASTREGISTER_PERMISSION_SET not in (other.func_info or []):
                continue
            other.func_info = [n for n in other.func_info if n != FASTREGISTER_PERMISSION_SET]
            other_component = session.get(Component, other.component_id)
            if other_component is not None and other_component.callback_url:
                code = credentials.issue(
                    session,
                    now,
                    CredentialKind.AUTH_CODE,
                    authorizer_appid,
                    ttl_seconds,
                    component_id=other.component_id,
                )
                pushes.enqueue_authorization_event(
                    session, now, other_component, "updateauthorized", authorizer_appid, code, ttl_seconds
                )
    session.flush()
    return credentials.issue(
        session, now, CredentialKind.AUTH_CODE, authorizer_appid, ttl_seconds, component_id=component_id
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


def _account(session: Session, appid: str) -> OfficialAccount | MiniProgram | None:
    oa = session.execute(select(OfficialAccount).where(OfficialAccount.appid == appid)).scalar_one_or_none()
    if oa is not None:
        return oa
    return session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()


def redirect_allowed(component: Component, redirect_uri: str) -> bool:
    return on_domain(redirect_uri, component.redirect_domain)


def check_consent_request(
    session: Session, now: datetime, component_appid: str, pre_auth_code: str, redirect_uri: str
) -> Component:
    """Validate the consent page's parameters: known component (40013), a live pre-auth code issued to it
    (40029), a redirect URI on the component's registered domain (61060)."""
    component = session.execute(select(Component).where(Component.appid == component_appid)).scalar_one_or_none()
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    found = credentials.find(session, now, CredentialKind.PRE_AUTH_CODE, pre_auth_code)
    if found.status is not Lookup.OK or found.credential is None or found.credential.component_id != component.id:
        raise DomainError(Err.INVALID_CODE)
    if not redirect_allowed(component, redirect_uri):
        raise DomainError(Err.INVALID_REDIRECT)
    return component


def open_consent(
    platform: Platform,
    component_appid: str,
    pre_auth_code: str,
    redirect_uri: str,
    auth_type: int,
    biz_appid: str,
) -> ConsentRequest:
    """The consent page for one account (``biz_appid``): a confirmation only that account's admin may answer."""
    from fastreg.services import confirmations

    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        component = check_consent_request(session, now, component_appid, pre_auth_code, redirect_uri)
        account = _account(session, biz_appid)
        if account is None or not account.admin_wxid:
            raise DomainError(Err.INVALID_APPID)
        is_oa = isinstance(account, OfficialAccount)
        if (auth_type == AUTH_TYPE_OA and not is_oa) or (auth_type == AUTH_TYPE_MP and is_oa):
            raise DomainError(Err.INVALID_APPID)
        confirmation = confirmations.create(
            session,
            now,
            platform,
            ConfirmationKind.COMPONENT_AUTH,
            account.appid,
            account.admin_wxid,
            {
                "component_id": component.id,
                "component_appid": component.appid,
                "component_name": component.name,
                "redirect_uri": redirect_uri,
                "pre_auth_code_hash": crypto.token_hash(pre_auth_code),
                "func_info": list(component.permission_sets or []),
            },
        )
        result = ConsentRequest(
            component_appid=component.appid,
            component_name=component.name,
            account_appid=account.appid,
            account_name=account.name or account.appid,
            confirmation_id=confirmation.id,
            confirmation_url=confirmations.url_of(platform, confirmation.id),
            expires_at=confirmation.expires_at,
        )
        uow.commit()
        return result


def with_params(url: str, **params: str | int) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def on_component_auth(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    """The account's admin answered the consent page: on confirm, authorize the component and send the
    browser to ``redirect_uri?auth_code=CODE&expires_in=3600``; a cancel authorizes nothing."""
    if action != "confirm":
        return None
    from fastreg.services import pushes

    session, now = uow.session, uow.clock.now()
    payload: dict[str, Any] = dict(confirmation.payload or {})
    component = session.get(Component, int(payload["component_id"]))
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    platform: Platform = uow.platform
    ttl = platform.settings.authorization_code_ttl_seconds
    func_info = [int(n) for n in payload.get("func_info", component.permission_sets or [])]
    code = grant_authorization(session, now, component.id, confirmation.account_appid, func_info, ttl)
    pushes.enqueue_authorization_event(session, now, component, "authorized", confirmation.account_appid, code, ttl)
    audit.record(
        session,
        now,
        AuditKind.COMPONENT_AUTHORIZED,
        wxid,
        oa_appid=confirmation.account_appid,
        component_appid=component.appid,
    )
    return with_params(str(payload["redirect_uri"]), auth_code=code, expires_in=ttl)


# ---------------------------------------------------------------- api_query_auth / api_authorizer_token


def _issue_tokens(
    session: Session, now: datetime, platform: Platform, authorization: Authorization
) -> tuple[str, str, int]:
    ttl = platform.settings.token_ttl_seconds
    access = credentials.issue(
        session,
        now,
        CredentialKind.AUTHORIZER_TOKEN,
        authorization.authorizer_appid,
        ttl,
        component_id=authorization.component_id,
    )
    refresh = credentials.issue(
        session,
        now,
        CredentialKind.REFRESH_TOKEN,
        authorization.authorizer_appid,
        REFRESH_TOKEN_TTL_SECONDS,
        component_id=authorization.component_id,
    )
    authorization.refresh_token_hash = crypto.token_hash(refresh)
    return access, refresh, ttl


def query_auth(platform: Platform, caller: Caller, component_appid: str, authorization_code: str) -> dict[str, Any]:
    """``api_query_auth``: exchange an authorization code for the authorizer's access and refresh tokens."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        component = component_of(session, caller, component_appid)
        found = credentials.find(session, now, CredentialKind.AUTH_CODE, authorization_code)
        credential = found.credential
        if found.status is not Lookup.OK or credential is None or credential.component_id != component.id:
            raise DomainError(Err.INVALID_CODE)
        authorization = _authorization(session, component.id, credential.subject)
        if authorization is None:
            raise DomainError(Err.INVALID_CODE)
        access, refresh, ttl = _issue_tokens(session, now, platform, authorization)
        info = {
            "authorizer_appid": authorization.authorizer_appid,
            "authorizer_access_token": access,
            "expires_in": ttl,
            "authorizer_refresh_token": refresh,
            "func_info": func_info_json(authorization.func_info or []),
        }
        uow.commit()
        return {"authorization_info": info}


def refresh_authorizer_token(
    platform: Platform, caller: Caller, component_appid: str, authorizer_appid: str, refresh_token: str
) -> dict[str, Any]:
    """``api_authorizer_token``: a new authorizer access token for a valid refresh token (which stays valid)."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        component = component_of(session, caller, component_appid)
        authorization = _authorization(session, component.id, authorizer_appid)
        found = credentials.find(session, now, CredentialKind.REFRESH_TOKEN, refresh_token)
        credential = found.credential
        if (
            authorization is None
            or found.status is not Lookup.OK
            or credential is None
            or credential.component_id != component.id
            or credential.subject != authorizer_appid
        ):
            raise DomainError(Err.INVALID_REFRESH_TOKEN)
        ttl = platform.settings.token_ttl_seconds
        access = credentials.issue(
            session, now, CredentialKind.AUTHORIZER_TOKEN, authorizer_appid, ttl, component_id=component.id
        )
        uow.commit()
        return {"authorizer_access_token": access, "expires_in": ttl, "authorizer_refresh_token": refresh_token}


def authorizer_info(platform: Platform, caller: Caller, component_appid: str, authorizer_appid: str) -> dict[str, Any]:
    """``api_get_authorizer_info``: the account's public profile and what it authorized the component to do."""
    with platform.uow(readonly=True) as uow:
        session, now = uow.session, uow.clock.now()
        component = component_of(session, caller, component_appid)
        authorization = _authorization(session, component.id, authorizer_appid)
        account = _account(session, authorizer_appid)
        if authorization is None or account is None:
            raise DomainError(Err.INVALID_APPID)
        principal = session.get(Principal, account.principal_id)
        assert principal is not None
        info: dict[str, Any] = {
            "nick_name": account.name or "",
            "head_img": "",
            "user_name": account.original_id,
            "principal_name": principal.name,
            "alias": "",
            "qrcode_url": "",
            "business_info": {"open_store": 0, "open_scan": 0, "open_pay": 0, "open_card": 0, "open_shake": 0},
        }
        if isinstance(account, OfficialAccount):
            verified = account.verified and (account.verify_expires_at is None or account.verify_expires_at > now)
            info["service_type_info"] = {"id": 2}
            info["verify_type_info"] = {"id": 0 if verified else -1}
        else:
            certified = account.certified and (account.certified_until is None or account.certified_until > now)
            info["service_type_info"] = {"id": 0}
            info["verify_type_info"] = {"id": 0 if certified else -1}
            info["MiniProgramInfo"] = {"network": {}, "categories": [], "visit_status": 0}
        info["principal_type"] = PRINCIPAL_TYPE_CODES.get(PrincipalType(principal.type), 1)
        return {
            "authorizer_info": info,
            "authorization_info": {
                "authorizer_appid": authorizer_appid,
                "func_info": func_info_json(authorization.func_info or []),
            },
        }


# ---------------------------------------------------------------- getaccountbasicinfo


def account_basic_info(platform: Platform, appid: str) -> dict[str, Any]:
    """``getaccountbasicinfo`` of a Mini Program (48001 for any other account)."""
    with platform.uow(readonly=True) as uow:
        session, now = uow.session, uow.clock.now()
        mp = session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()
        if mp is None:
            raise DomainError(Err.UNAUTHORIZED_API)
        principal = session.get(Principal, mp.principal_id)
        assert principal is not None
        certified = mp.certified and (mp.certified_until is None or mp.certified_until > now)
        return {
            "appid": mp.appid,
            "account_type": 3,
            "principal_type": PRINCIPAL_TYPE_CODES.get(PrincipalType(principal.type), 1),
            "principal_name": principal.name,
            "realname_status": 1,
            "nickname": mp.name or "",
            "wx_verify_info": {
                "qualification_verify": certified,
                "naming_verify": certified,
                "annual_review": False,
            },
            "credential": "",
            "customer_type": 1,
        }


def is_official_account(session: Session, appid: str) -> bool:
    return session.execute(select(OfficialAccount.id).where(OfficialAccount.appid == appid)).first() is not None


def authorize_new_account(
    conn: PreparedConnection, now: datetime, component_id: int, appid: str, func_info: list[int], ttl_seconds: int
) -> str:
    """Authorize a just-created account (a fast-registered MP) to the component that registered it, and return
    the authorization code for ``api_query_auth``. Two inserts: a new account has no earlier authorization and
    no other component to take the fast-registration permission set from (授权互斥)."""
    conn.execute(
        sql.INSERT_AUTHORIZATION,
        {
            "component_id": component_id,
            "authorizer_appid": appid,
            # A placeholder until api_query_auth issues the real refresh token.
            "refresh_token_hash": crypto.token_hash(crypto.new_token()),
            "func_info": func_info,
            "created_at": now,
        },
    )
    return credentials.issue(conn, now, CredentialKind.AUTH_CODE, appid, ttl_seconds, component_id=component_id)
