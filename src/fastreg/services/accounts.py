"""Creating accounts: principals, Official Accounts (with their operator login), components."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastreg.domain import secrets
from fastreg.domain.entities import Component, OfficialAccount, Operator, Principal
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import PrincipalType
from fastreg.domain.rules import normalize_email, validate_email_format, validate_password
from fastreg.domain.urls import normalized_web_url
from fastreg.services import pushes
from fastreg.services.ports import Context, UnitOfWork

# Every permission set a component may hold; a new component holds them all unless told otherwise.
ALL_PERMISSION_SETS = [*range(1, 11), 17, 18, 19, 22, 25, 27, 30, 31, 36, 37, 40, 41, 45, 48, 49, 51, 57]


@dataclass(frozen=True)
class NewOfficialAccount:
    appid: str
    secret: str
    original_id: str
    admin_wxid: str
    operator_email: str
    operator_password: str


def create_official_account(
    context: Context,
    *,
    name: str,
    principal_name: str,
    principal_type: str,
    verified: bool = True,
    overseas: bool = False,
    admin_wxid: str | None = None,
    operator_email: str | None = None,
    operator_password: str | None = None,
    verify_expires_at: datetime | None = None,
    sandbox_only_cheap_password_hash: bool = False,
) -> NewOfficialAccount:
    """The OA, its principal when new, and its operator login, in one unit of work.
    ``sandbox_only_cheap_password_hash``: the operator's password is hashed with cheap argon2 parameters, for
    accounts the sandbox API creates; ignored outside sandbox mode."""
    email = validate_email_format(operator_email) if operator_email else None
    password = operator_password or ("Op" + secrets.new_secret()[:10] + "9")
    validate_password(password)
    cheap_hash = sandbox_only_cheap_password_hash and context.settings.is_sandbox
    password_hash = context.passwords.hash(password, sandbox_only_cheap=cheap_hash)  # before the transaction
    secret, admin = secrets.new_secret(), admin_wxid or secrets.new_wxid()
    with context.uow() as uow:
        now = uow.clock.now()
        principal = uow.accounts.principal_named(principal_name)
        if principal is None:
            principal_kind = PrincipalType(principal_type).value
            principal = Principal(name=principal_name, type=principal_kind, blacklisted=False, mp_count=0)
            uow.accounts.add(principal)
        appid, original_id = uow.accounts.new_account_ids()
        email = email or f"operator-{appid}@example.com"
        uow.accounts.claim_identifier(normalize_email(email), "email")
        oa = OfficialAccount(
            appid=appid,
            secret_hash=secrets.token_hash(secret),
            original_id=original_id,
            name=name,
            principal_id=principal.id,
            verified=verified,
            verify_expires_at=verify_expires_at or ((now + timedelta(days=365)) if verified else None),
            overseas=overseas,
            admin_wxid=admin,
            created_at=now,
        )
        uow.accounts.add(oa)
        uow.accounts.add(Operator(oa_id=oa.id, email=email, password_hash=password_hash, wxid=admin))
        uow.commit()
    return NewOfficialAccount(appid, secret, original_id, admin, email, password)


@dataclass(frozen=True)
class NewComponent:
    component_appid: str
    component_appsecret: str
    token: str
    encoding_aes_key: str
    component_verify_ticket: str


CALLBACK_URL_MAX_LENGTH = 1000  # the column's


def create_component(
    context: Context,
    *,
    name: str,
    redirect_domain: str,
    callback_url: str | None = None,
    published: bool = True,
    permission_sets: list[int] | None = None,
) -> NewComponent:
    if callback_url is not None:
        callback_url = normalized_web_url(callback_url, CALLBACK_URL_MAX_LENGTH)
        if callback_url is None:
            raise DomainError(Err.INVALID_PARAMETER, field="callback_url")
    secret, token, aes_key = secrets.new_secret(), secrets.new_secret(), secrets.new_encoding_aes_key()
    with context.uow() as uow:
        now, appid = uow.clock.now(), secrets.new_appid()
        uow.accounts.claim_identifier(appid, "appid")
        component = Component(
            appid=appid,
            secret_hash=secrets.token_hash(secret),
            name=name,
            redirect_domain=redirect_domain.lower(),
            callback_url=callback_url,
            published=published,
            permission_sets=list(ALL_PERMISSION_SETS if permission_sets is None else permission_sets),
            token=token,
            encoding_aes_key=aes_key,
            created_at=now,
        )
        uow.components.add(component)
        ticket = pushes.new_verify_ticket()
        pushes.remember_verify_ticket(uow.pushes, now, component, ticket)
        uow.commit()
    return NewComponent(appid, secret, token, aes_key, ticket)


def component_of(uow: UnitOfWork, appid: str) -> Component:
    """The component with this appid; INVALID_APPID when there is none."""
    component = uow.components.component(appid)
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    return component
