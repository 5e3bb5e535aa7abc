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

from fastreg.domain import secrets
from fastreg.domain.entities import Component, CredentialValues
from fastreg.domain.errors import DomainError, Err
from fastreg.services import credentials, pushes
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.services.ports import Context, UnitOfWork

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


def token_digest(raw: str | None) -> str:
    """The digest a presented token is looked up by; 41001 when none was presented."""
    if not raw:
        raise DomainError(Err.TOKEN_MISSING)
    return secrets.token_hash(raw)


def caller_of(credential: CredentialValues | None, now: datetime, kinds: Iterable[CredentialKind]) -> Caller:
    """The caller behind a looked-up token: 40001 when unknown (or of another kind, or used), 42001 when
    expired by the platform clock."""
    found = credentials.status(credential, now, {kind.value for kind in kinds})
    if found is Lookup.EXPIRED:
        raise DomainError(Err.TOKEN_EXPIRED)
    if found is not Lookup.OK or credential is None:
        raise DomainError(Err.INVALID_CREDENTIAL)
    return Caller(CredentialKind(credential.kind), credential.subject, credential.component_id)


def authenticate(uow: UnitOfWork, raw: str | None, kinds: Iterable[CredentialKind]) -> Caller:
    """The caller behind ``raw``: 41001 when missing, 40001 when unknown (or of another kind), 42001 when
    expired by the platform clock. Every API call starts here: one round trip (the token and the clock)."""
    credential = uow.credentials.credential(token_digest(raw))
    return caller_of(credential, uow.clock.now(), kinds)


def check_authenticated(context: Context, raw: str | None, kinds: Iterable[CredentialKind]) -> Caller:
    """:func:`authenticate` in its own read-only transaction (the API checks the token before the body)."""
    with context.uow(readonly=True) as uow:
        return authenticate(uow, raw, kinds)


def component_of(uow: UnitOfWork, caller: Caller, component_appid: str) -> Component:
    """The component a ``component_access_token`` belongs to; the body's ``component_appid`` must name it
    (40013 otherwise)."""
    if caller.kind is not CredentialKind.COMPONENT_TOKEN or caller.appid != component_appid:
        raise DomainError(Err.INVALID_APPID)
    return _component(uow, component_appid)


def _component(uow: UnitOfWork, appid: str) -> Component:
    component = uow.components.component(appid)
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    return component


# ---------------------------------------------------------------- /cgi-bin/token


def issue_account_token(context: Context, grant_type: str | None, appid: str | None, secret: str | None) -> IssuedToken:
    """``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` for an OA or an MP."""
    if grant_type != "client_credential":
        raise DomainError(Err.INVALID_GRANT_TYPE)
    if not appid:
        raise DomainError(Err.INVALID_APPID)
    with context.uow() as uow:
        account = uow.accounts.find_official_account(appid) or uow.accounts.find_mini_program(appid)
        if account is None:
            raise DomainError(Err.INVALID_APPID)
        if not secret or not secrets.secrets_equal(secrets.token_hash(secret), account.secret_hash):
            raise DomainError(Err.INVALID_APPSECRET)
        ttl = context.settings.token_ttl_seconds
        token = credentials.issue(uow.credentials, uow.clock.now(), CredentialKind.ACCESS_TOKEN, appid, ttl)
        uow.commit()
        return IssuedToken(token, ttl)


# ---------------------------------------------------------------- component tokens


def _component_by_secret(uow: UnitOfWork, component_appid: str, secret: str) -> Component:
    """The component, by its appid (40013) and secret (40125)."""
    component = _component(uow, component_appid)
    if not secrets.secrets_equal(secrets.token_hash(secret), component.secret_hash):
        raise DomainError(Err.INVALID_APPSECRET)
    return component


def issue_component_token(
    context: Context, component_appid: str, component_appsecret: str, verify_ticket: str
) -> IssuedToken:
    """``api_component_token``: the secret and a verify ticket issued to the component within the last 12 hours
    (61006 for a ticket it was never issued, 61005 for an older one)."""
    with context.uow() as uow:
        now = uow.clock.now()
        component = _component_by_secret(uow, component_appid, component_appsecret)
        found = credentials.find(uow.credentials, now, CredentialKind.VERIFY_TICKET, verify_ticket)
        if found.credential is None or found.credential.component_id != component.id:
            raise DomainError(Err.INVALID_VERIFY_TICKET)
        if found.status is Lookup.EXPIRED:
            raise DomainError(Err.COMPONENT_TICKET_EXPIRED)
        ttl = context.settings.token_ttl_seconds
        token = credentials.issue(
            uow.credentials, now, CredentialKind.COMPONENT_TOKEN, component.appid, ttl, component_id=component.id
        )
        uow.commit()
        return IssuedToken(token, ttl)


def start_push_ticket(context: Context, component_appid: str, component_secret: str) -> None:
    """``api_start_push_ticket``: issue a verify ticket now and push it (then every 10 minutes, as always)."""
    with context.uow() as uow:
        component = _component_by_secret(uow, component_appid, component_secret)
        pushes.issue_verify_ticket(uow.pushes, uow.clock.now(), component)
        uow.commit()


def create_pre_auth_code(context: Context, caller: Caller, component_appid: str) -> IssuedToken:
    """``api_create_preauthcode``: a code the componentloginpage accepts (1800 s)."""
    with context.uow() as uow:
        now = uow.clock.now()
        component = component_of(uow, caller, component_appid)
        ttl = context.settings.pre_auth_code_ttl_seconds
        code = credentials.issue(
            uow.credentials, now, CredentialKind.PRE_AUTH_CODE, component.appid, ttl, component_id=component.id
        )
        uow.commit()
        return IssuedToken(code, ttl)
