"""Confirmations: an action a person approves on the phone page (reached by scanning a QR code).
Each has a kind, an expiry and the only wxid allowed to answer it; answering runs the kind's handler in
the same transaction, so a confirmation and its effect happen together or not at all."""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db.models import Component, Confirmation, MiniProgram, OfficialAccount
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind, ConfirmationStatus
from fastreg.platform import Platform
from fastreg.services import audit
from fastreg.services.ports import Context

# (context, unit of work, confirmation, action, wxid) -> the redirect URL, if any
Handler = Callable[[Context, UnitOfWork, Confirmation, str, str], "str | None"]

# Where each kind's effect lives; imported on first use to keep the service modules independent.
HANDLERS: dict[str, str] = {
    ConfirmationKind.REGISTRATION_SCAN: "fastreg.services.registration:on_scan_answered",
    ConfirmationKind.BIND_ADMIN: "fastreg.services.registration:on_admin_answered",
    ConfirmationKind.FASTREGISTER_AUTH: "fastreg.services.fastregister:on_auth_answered",
    ConfirmationKind.COMPONENT_AUTH: "fastreg.services.authorization:on_component_auth",
    ConfirmationKind.LINK_OA_ADMIN: "fastreg.services.links:on_oa_admin_answered",
    ConfirmationKind.LINK_MP_ADMIN: "fastreg.services.links:on_mp_admin_answered",
    ConfirmationKind.WXA_AUTH: "fastreg.services.verification:on_admin_answered",
    ConfirmationKind.UNLINK_OA_ADMIN: "fastreg.services.links:on_unlink_answered",
}

CONFIRM = "confirm"
CANCEL = "cancel"
PATH_PREFIX = "/m/confirm/"


@dataclass(frozen=True)
class ConfirmationView:
    id: str
    kind: str
    url: str
    account_appid: str
    account_name: str
    allowed_wxid: str
    status: str
    payload: dict[str, Any]
    result: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AnswerResult:
    status: str
    redirect_url: str | None


def url_of(platform: Context, confirmation_id: str) -> str:
    return platform.url(PATH_PREFIX + confirmation_id)


def _secret_of(platform: Context, seed: str) -> str:
    return crypto.derived_token(platform.secret_key, "confirmation-id", seed)


def public_id(platform: Context, confirmation: Confirmation) -> str:
    """The id in the confirmation's URL, a bearer secret: the table keeps only its digest (``Confirmation.id``)
    and the seed it is derived from with the platform's secret key. A confirmation stored before ids were
    hashed has no seed: its id cannot be shown again (those were expired when the ids were hashed)."""
    return _secret_of(platform, confirmation.seed) if confirmation.seed else ""


def url_for(platform: Context, confirmation: Confirmation) -> str:
    return url_of(platform, public_id(platform, confirmation))


def id_from_url(url: str) -> str:
    """The confirmation id in a URL decoded from a QR code (or the id itself)."""
    path = urlparse(url).path if "/" in url else PATH_PREFIX + url
    if not path.startswith(PATH_PREFIX) or len(path) <= len(PATH_PREFIX):
        raise DomainError(Err.NOT_FOUND)
    return path[len(PATH_PREFIX) :].strip("/")


def new(
    context: Context,
    now: datetime,
    kind: ConfirmationKind,
    account_appid: str,
    allowed_wxid: str,
    payload: dict[str, Any],
    *,
    ttl_seconds: int | None = None,
) -> Confirmation:
    """A new pending confirmation (to store with ``uow.confirmations.add``)."""
    seed = crypto.new_secret()
    while _secret_of(context, seed).startswith("-"):  # an id must not pass for an option (`fastreg confirm ID`)
        seed = crypto.new_secret()
    return Confirmation(
        id=crypto.token_hash(_secret_of(context, seed)),
        seed=seed,
        kind=kind.value,
        account_appid=account_appid,
        allowed_wxid=allowed_wxid,
        status=ConfirmationStatus.PENDING.value,
        payload=payload,
        result=None,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds or context.settings.confirmation_ttl_seconds),
        answered_at=None,
    )


def create(
    session: Session,
    now: datetime,
    platform: Platform,
    kind: ConfirmationKind,
    account_appid: str,
    allowed_wxid: str,
    payload: dict[str, Any],
    *,
    ttl_seconds: int | None = None,
) -> Confirmation:
    confirmation = new(platform, now, kind, account_appid, allowed_wxid, payload, ttl_seconds=ttl_seconds)
    session.add(confirmation)
    session.flush()
    return confirmation


def effective_status(confirmation: Confirmation, now: datetime) -> str:
    if confirmation.status == ConfirmationStatus.PENDING and confirmation.expires_at <= now:
        return ConfirmationStatus.EXPIRED.value
    return confirmation.status


def _account_name(session: Session, appid: str) -> str:
    for model in (OfficialAccount, MiniProgram, Component):
        name = session.execute(select(model.name).where(model.appid == appid)).scalar_one_or_none()
        if name:
            return str(name)
    return appid


def _fernet(platform: Context) -> Fernet:
    return _fernet_for(platform.secret_key)


@functools.cache
def _fernet_for(secret_key: str) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(("confirmation-result:" + secret_key).encode()).digest())
    return Fernet(key)


def _seal(platform: Platform, result: dict[str, Any]) -> dict[str, Any]:
    """A confirmation's result can carry a bearer secret (the redirect URL holds the fresh ticket or
    authorization code, which the desktop page's poll hands to the browser): stored encrypted with the
    platform's secret key, so the database alone never shows it."""
    return {"sealed": _fernet(platform).encrypt(json.dumps(result).encode()).decode()}


def _unseal(platform: Context, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    if "sealed" not in stored:
        return dict(stored)
    try:
        opened: dict[str, Any] = json.loads(_fernet(platform).decrypt(stored["sealed"].encode()))
    except InvalidToken:  # sealed under another secret key
        return None
    return opened


def view(session: Session, platform: Platform, confirmation: Confirmation, now: datetime) -> ConfirmationView:
    return view_named(platform, confirmation, now, _account_name(session, confirmation.account_appid))


def view_named(context: Context, confirmation: Confirmation, now: datetime, account_name: str) -> ConfirmationView:
    """:func:`view` with the name of the account it is about (the OA's, MP's or component's name, or appid)."""
    return ConfirmationView(
        id=public_id(context, confirmation),
        kind=confirmation.kind,
        url=url_for(context, confirmation),
        account_appid=confirmation.account_appid,
        account_name=account_name,
        allowed_wxid=confirmation.allowed_wxid,
        status=effective_status(confirmation, now),
        payload=dict(confirmation.payload or {}),
        result=_unseal(context, confirmation.result),
        created_at=confirmation.created_at,
        expires_at=confirmation.expires_at,
    )


# The browser that opened a QR page (fastregisterauth, componentloginpage) holds a random nonce in a cookie;
# the confirmation keeps its hash, and only that browser's poll learns the redirect (with its ticket or code).
OPENER = "opener_hash"


def opener_entry(opener: str | None) -> dict[str, str]:
    """The payload entry binding a page's confirmation to the nonce of the browser that opened it."""
    return {OPENER: crypto.token_hash(opener)} if opener else {}


def opened_by(confirmation: ConfirmationView, opener: str | None) -> bool:
    stored = confirmation.payload.get(OPENER)
    return bool(stored and opener) and crypto.secrets_equal(str(stored), crypto.token_hash(str(opener)))


def _get(session: Session, confirmation_id: str) -> Confirmation:
    """The confirmation whose URL holds ``confirmation_id`` (looked up by its digest)."""
    confirmation = session.get(Confirmation, crypto.token_hash(confirmation_id))
    if confirmation is None:
        raise DomainError(Err.NOT_FOUND)
    return confirmation


def describe(platform: Platform, confirmation_id: str) -> ConfirmationView:
    with platform.uow(readonly=True) as uow:
        return view(uow.session, platform, _get(uow.session, confirmation_id), uow.clock.now())


def describe_stored(platform: Platform, digest: str) -> ConfirmationView:
    """The confirmation another record refers to: registrations and tasks keep its digest, not its public id."""
    with platform.uow(readonly=True) as uow:
        confirmation = uow.session.get(Confirmation, digest)
        if confirmation is None:
            raise DomainError(Err.NOT_FOUND)
        return view(uow.session, platform, confirmation, uow.clock.now())


def list_for(platform: Platform, wxid: str, status: str | None = "pending") -> list[ConfirmationView]:
    with platform.uow(readonly=True) as uow:
        now = uow.clock.now()
        rows = uow.session.execute(
            select(Confirmation).where(Confirmation.allowed_wxid == wxid).order_by(Confirmation.created_at)
        ).scalars()
        views = [view(uow.session, platform, row, now) for row in rows]
    return [v for v in views if status in (None, "", v.status)]


def _handler(kind: str) -> Handler:
    module_name, _, function = HANDLERS[kind].partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), function)
    return handler


def answer(platform: Platform, confirmation_id: str, wxid: str, action: str) -> AnswerResult:
    """Confirm or cancel. Only the allowed wxid may answer, once, before expiry; the kind's effect runs in
    the same transaction. A refused answer changes nothing."""
    if action not in (CONFIRM, CANCEL):
        raise DomainError(Err.INVALID_PARAMETER)
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        confirmation = _get(session, confirmation_id)
        if wxid != confirmation.allowed_wxid:
            raise DomainError(Err.NOT_ALLOWED)
        if effective_status(confirmation, now) != ConfirmationStatus.PENDING:
            raise DomainError(Err.CONFIRMATION_CLOSED)
        new_status = ConfirmationStatus.CONFIRMED if action == CONFIRM else ConfirmationStatus.CANCELLED
        # Conditional update: two concurrent answers cannot both win.
        claimed = session.execute(
            update(Confirmation)
            .where(Confirmation.id == confirmation.id, Confirmation.status == ConfirmationStatus.PENDING.value)
            .values(status=new_status.value, answered_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if not claimed:
            raise DomainError(Err.CONFIRMATION_CLOSED)
        confirmation.status, confirmation.answered_at = new_status.value, now
        redirect_url = _handler(confirmation.kind)(platform, uow, confirmation, action, wxid)
        confirmation.result = _seal(platform, {"redirect_url": redirect_url})
        if new_status is ConfirmationStatus.CANCELLED:
            audit.record(
                session,
                now,
                AuditKind.SCAN_CANCELLED,
                wxid,
                oa_appid=confirmation.account_appid,
                confirmation=confirmation.kind,
            )
        uow.commit()
        return AnswerResult(new_status.value, redirect_url)
