"""Creating accounts: principals, Official Accounts (with their operator login), components."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import Component, Identifier, OfficialAccount, Operator, Principal
from fastreg.adapters.db.prepared import PreparedConnection, prepared
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import PrincipalType
from fastreg.domain.rules import normalize_email, validate_email_format, validate_password
from fastreg.domain.urls import normalized_web_url
from fastreg.services import pushes

# Every permission set a component may hold; a new component holds them all unless told otherwise.
ALL_PERMISSION_SETS = [*range(1, 11), 17, 18, 19, 22, 25, 27, 30, 31, 36, 37, 40, 41, 45, 48, 49, 51, 57]


def claim_identifier(session: Session, value: str, kind: str) -> None:
    """Reserve an appid, original_id or email platform-wide; refuses one that is taken."""
    try:
        with session.begin_nested():
            session.add(Identifier(value=value, kind=kind))
    except IntegrityError:
        raise DomainError(Err.EMAIL_TAKEN if kind == "email" else Err.INVALID_APPID, field=kind) from None


def identifier_taken(session: Session, value: str) -> bool:
    return session.get(Identifier, value) is not None


def new_account_ids(conn: PreparedConnection) -> tuple[str, str]:
    """A fresh (appid, original_id) pair, reserved platform-wide in one statement. They are random (64 and 48
    bits), so no savepoint is spent on a collision: one would fail the whole transaction, which changes nothing."""
    appid, original_id = crypto.new_appid(), crypto.new_original_id()
    conn.execute(
        sql.INSERT_IDENTIFIER, [{"value": appid, "kind": "appid"}, {"value": original_id, "kind": "original_id"}]
    )
    return appid, original_id


def get_or_create_principal(session: Session, name: str, principal_type: str) -> Principal:
    principal = session.execute(select(Principal).where(Principal.name == name)).scalar_one_or_none()
    if principal is None:
        principal = Principal(name=name, type=PrincipalType(principal_type).value, blacklisted=False, mp_count=0)
        session.add(principal)
        session.flush()
    return principal


@dataclass(frozen=True)
class NewOfficialAccount:
    appid: str
    secret: str
    original_id: str
    admin_wxid: str
    operator_email: str
    operator_password: str


def create_official_account(
    uow: UnitOfWork,
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
    """``sandbox_only_cheap_password_hash``: the operator's password is hashed with cheap argon2 parameters
    (``crypto.hash_password``), for accounts the sandbox API creates; ignored outside sandbox mode."""
    session, now = uow.session, uow.clock.now()
    cheap_hash = sandbox_only_cheap_password_hash and uow.platform is not None and uow.platform.settings.is_sandbox
    principal = get_or_create_principal(session, principal_name, principal_type)
    appid, original_id = new_account_ids(prepared(session))
    secret = crypto.new_secret()
    admin = admin_wxid or crypto.new_wxid()
    email = validate_email_format(operator_email) if operator_email else f"operator-{appid}@example.com"
    password = operator_password or ("Op" + crypto.new_secret()[:10] + "9")
    validate_password(password)
    claim_identifier(session, normalize_email(email), "email")
    oa = OfficialAccount(
        appid=appid,
        secret_hash=crypto.token_hash(secret),
        original_id=original_id,
        name=name,
        principal_id=principal.id,
        verified=verified,
        verify_expires_at=verify_expires_at or ((now + timedelta(days=365)) if verified else None),
        overseas=overseas,
        admin_wxid=admin,
        created_at=now,
    )
    session.add(oa)
    session.flush()
    session.add(
        Operator(
            oa_id=oa.id,
            email=email,
            password_hash=crypto.hash_password(password, sandbox_only_cheap=cheap_hash),
            wxid=admin,
        )
    )
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
    uow: UnitOfWork,
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
    session, now = uow.session, uow.clock.now()
    appid = crypto.new_appid()
    claim_identifier(session, appid, "appid")
    secret, token, aes_key = crypto.new_secret(), crypto.new_secret(), crypto.new_encoding_aes_key()
    component = Component(
        appid=appid,
        secret_hash=crypto.token_hash(secret),
        name=name,
        redirect_domain=redirect_domain.lower(),
        callback_url=callback_url,
        published=published,
        permission_sets=list(ALL_PERMISSION_SETS if permission_sets is None else permission_sets),
        token=token,
        encoding_aes_key=aes_key,
        created_at=now,
    )
    session.add(component)
    session.flush()
    ticket = pushes.new_verify_ticket()
    pushes.remember_verify_ticket(session.info["unit_of_work"].pushes, now, component, ticket)
    uow.commit()
    return NewComponent(appid, secret, token, aes_key, ticket)


def find_official_account(session: Session, appid: str) -> OfficialAccount:
    oa = session.execute(select(OfficialAccount).where(OfficialAccount.appid == appid)).scalar_one_or_none()
    if oa is None:
        raise DomainError(Err.INVALID_APPID)
    return oa


def find_component(session: Session, appid: str) -> Component:
    component = session.execute(select(Component).where(Component.appid == appid)).scalar_one_or_none()
    if component is None:
        raise DomainError(Err.INVALID_APPID)
    return component
