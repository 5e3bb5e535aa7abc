"""Access tokens of the Open Platform API: account tokens (``/cgi-bin/token``), component access tokens,
pre-auth codes, and the check every authenticated call starts with.

Tokens are opaque random strings stored only as a digest (``services.credentials``), valid
``settings.token_ttl_seconds`` (7200 s) by the platform clock. Issuing a new one never invalidates the older
unexpired ones (WeChat keeps an overlap); an expired one is refused with 42001.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import Component, MiniProgram, OfficialAccount
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.domain import secrets
from fastreg.domain.clock import Clock
from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services import credentials, pushes
from fastreg.services.accounts import find_component
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.services.ports import UnitOfWork

# The kinds of token that act for an account (OA or MP): its own token, or one a component holds for it.
ACCOUNT_TOKEN_KINDS = (CredentialKind.ACCESS_TOKEN, CredentialKind.AUTHORIZER_TOKEN)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class Caller:
    """Who an access token speaks for: an account appid (or a component appid for component tokens),
    and the component acting for it when the token is an authorizer token."""

    kind: CredentialKind
    appid: str
    component_id: int | None

    @property
    def via_component(self) -> bool:
        return self.kind is CredentialKind.AUTHORIZER_TOKEN


def authenticate(conn: PreparedConnection, clock: Clock, raw: str | None, kinds: Iterable[CredentialKind]) -> Caller:
    """The caller behind ``raw``: 41001 when missing, 40001 when unknown (or of another kind), 42001 when
    expired by the platform clock. Every API call starts here, so it is one prepared statement."""
    return authenticate_with(conn, sql.TOKEN, clock, raw, kinds)[0]


def authenticate_with(
    conn: PreparedConnection, statement: Select[Any], clock: Clock, raw: str | None, kinds: Iterable[CredentialKind]
) -> tuple[Caller, Any]:
    """:func:`authenticate` by ``statement``, which reads the token's columns (``statements.TOKEN``) and may
    read more along; returns the caller and the row. The token is looked up before the clock is asked for
    the time, in one batch: a unit of work's first statements, its BEGIN and its sandbox clock then reach
    PostgreSQL in one round trip."""
    if not raw:
        raise DomainError(Err.TOKEN_MISSING)
    allowed = {kind.value for kind in kinds}
    with conn.batch():
        found = conn.execute(statement, {"token_hash": crypto.token_hash(raw)})
        now = clock.now()
    credential = found.first()
    return _caller(credential, now, allowed), credential


def _caller(credential: Any, now: datetime, allowed: set[str]) -> Caller:
    """The caller behind a stored token (a ``Credential`` or a row of its columns)."""
    if credential is None or credential.kind not in allowed or credential.used_at is not None:
        raise DomainError(Err.INVALID_CREDENTIAL)
    if credential.expires_at <= now:
        raise DomainError(Err.TOKEN_EXPIRED)
    return Caller(CredentialKind(credential.kind), credential.subject, credential.component_id)


def caller_in(uow: UnitOfWork, raw: str | None, kinds: Iterable[CredentialKind]) -> Caller:
    """:func:`authenticate` through the unit of work's credentials repository."""
    if not raw:
        raise DomainError(Err.TOKEN_MISSING)
    credential = uow.credentials.credential(secrets.token_hash(raw))
    return _caller(credential, uow.clock.now(), {kind.value for kind in kinds})


def check_authenticated(platform: Platform, raw: str | None, kinds: Iterable[CredentialKind]) -> Caller:
    """:func:`authenticate` in its own read-only transaction (the API checks the token before the body)."""
    with platform.uow(readonly=True) as uow:
        return authenticate(uow.conn, uow.clock, raw, kinds)


def component_of(session: Session, caller: Caller, component_appid: str) -> Component:
    """The component a ``component_access_token`` belongs to; the body's ``component_appid`` must name it
    (40013 otherwise)."""
    _ensure_component_caller(caller, component_appid)
    return find_component(session, component_appid)


def component_for(uow: UnitOfWork, caller: Caller, component_appid: str) -> Component:
    """:func:`component_of` through the unit of work's repositories."""
    _ensure_component_caller(caller, component_appid)
    component = uow.components.component(component_appid)
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    return component


def _ensure_component_caller(caller: Caller, component_appid: str) -> None:
    if caller.kind is not CredentialKind.COMPONENT_TOKEN or caller.appid != component_appid:
        raise DomainError(Err.INVALID_APPID)


# ---------------------------------------------------------------- /cgi-bin/token


def issue_account_token(
    platform: Platform, grant_type: str | None, appid: str | None, secret: str | None
) -> IssuedToken:
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` for an OA or an MP."""
    if grant_type != "client_credential":
        raise DomainError(Err.INVALID_GRANT_TYPE)
    if not appid:
        raise DomainError(Err.INVALID_APPID)
    with platform.uow() as uow:
        account: OfficialAccount | MiniProgram | None = uow.session.execute(
            select(OfficialAccount).where(OfficialAccount.appid == appid)
        ).scalar_one_or_none()
        if account is None:
            account = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one_or_none()
        if account is None:
            raise DomainError(Err.INVALID_APPID)
        if not secret or not crypto.secrets_equal(crypto.token_hash(secret), account.secret_hash):
            raise DomainError(Err.INVALID_APPSECRET)
        ttl = platform.settings.token_ttl_seconds
        token = credentials.issue(uow.session, uow.clock.now(), CredentialKind.ACCESS_TOKEN, appid, ttl)
        uow.commit()
        return IssuedToken(token, ttl)


# ---------------------------------------------------------------- component tokens


def _component_by_secret(session: Session, component_appid: str, secret: str) -> Component:
    """The component, by its appid (40013) and secret (40125)."""
    component = find_component(session, component_appid)
    if not crypto.secrets_equal(crypto.token_hash(secret), component.secret_hash):
        raise DomainError(Err.INVALID_APPSECRET)
    return component


def issue_component_token(
    platform: Platform, component_appid: str, component_appsecret: str, verify_ticket: str
) -> IssuedToken:
    """``api_component_token``: the secret and a verify ticket issued to the component within the last 12 hours
    (61006 for a ticket it was never issued, 61005 for an older one)."""
    with platform.uow() as uow:
        now = uow.clock.now()
        component = _component_by_secret(uow.session, component_appid, component_appsecret)
        found = credentials.find(uow.session, now, CredentialKind.VERIFY_TICKET, verify_ticket)
        if found.credential is None or found.credential.component_id != component.id:
            raise DomainError(Err.INVALID_VERIFY_TICKET)
        if found.status is Lookup.EXPIRED:
            raise DomainError(Err.COMPONENT_TICKET_EXPIRED)
        ttl = platform.settings.token_ttl_seconds
        token = credentials.issue(
            uow.session,
            now,
            CredentialKind.COMPONENT_TOKEN,
            component.appid,
            ttl,
            component_id=component.id,
        )
        uow.commit()
        return IssuedToken(token, ttl)


def start_push_ticket(platform: Platform, component_appid: str, component_secret: str) -> None:
    """``api_start_push_ticket``: issue a verify ticket now and push it (then every 10 minutes, as always)."""
    with platform.uow() as uow:
        component = _component_by_secret(uow.session, component_appid, component_secret)
        pushes.issue_verify_ticket(uow.pushes, uow.clock.now(), component)
        uow.commit()


def create_pre_auth_code(platform: Platform, caller: Caller, component_appid: str) -> IssuedToken:
    """``api_create_preauthcode``: a code the componentloginpage accepts (1800 s)."""
    with platform.uow() as uow:
        now = uow.clock.now()
        component = component_of(uow.session, caller, component_appid)
        ttl = platform.settings.pre_auth_code_ttl_seconds
        code = credentials.issue(
            uow.session, now, CredentialKind.PRE_AUTH_CODE, component.appid, ttl, component_id=component.id
        )
        uow.commit()
        return IssuedToken(code, ttl)
