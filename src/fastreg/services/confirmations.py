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

from fastreg.domain import secrets
from fastreg.domain.entities import Confirmation
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind, ConfirmationStatus
from fastreg.services import audit
from fastreg.services.ports import Context, UnitOfWork

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


def url_of(context: Context, confirmation_id: str) -> str:
    return context.url(PATH_PREFIX + confirmation_id)


def _secret_of(context: Context, seed: str) -> str:
    return secrets.derived_token(context.secret_key, "confirmation-id", seed)


def public_id(context: Context, confirmation: Confirmation) -> str:
    """The id in the confirmation's URL, a bearer secret: the table keeps only its digest (``Confirmation.id``)
    and the seed it is derived from with the platform's secret key. A confirmation stored before ids were
    hashed has no seed: its id cannot be shown again (those were expired when the ids were hashed)."""
    return _secret_of(context, confirmation.seed) if confirmation.seed else ""


def url_for(context: Context, confirmation: Confirmation) -> str:
    return url_of(context, public_id(context, confirmation))


def id_from_url(url: str) -> str:
    """The confirmation id in a URL decoded from a QR code (or the id itself)."""
    path = urlparse(url).path if "/" in url else PATH_PREFIX + url
    if not path.startswith(PATH_PREFIX) or len(path) <= len(PATH_PREFIX):
        raise DomainError(Err.NOT_FOUND)
    return path[len(PATH_PREFIX) :].strip("/")


def create(
    uow: UnitOfWork,
    now: datetime,
    context: Context,
    kind: ConfirmationKind,
    account_appid: str,
    allowed_wxid: str,
    payload: dict[str, Any],
    *,
    ttl_seconds: int | None = None,
) -> Confirmation:
    """A new pending confirmation, stored in ``uow``."""
    confirmation = new(context, now, kind, account_appid, allowed_wxid, payload, ttl_seconds=ttl_seconds)
    uow.confirmations.add(confirmation)
    return confirmation


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
    """A new pending confirmation (not yet stored)."""
    seed = secrets.new_secret()
    while _secret_of(context, seed).startswith("-"):  # an id must not pass for an option (`fastreg confirm ID`)
        seed = secrets.new_secret()
    return Confirmation(
        id=secrets.token_hash(_secret_of(context, seed)),
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


def effective_status(confirmation: Confirmation, now: datetime) -> str:
    if confirmation.status == ConfirmationStatus.PENDING and confirmation.expires_at <= now:
        return ConfirmationStatus.EXPIRED.value
    return confirmation.status


def _fernet(context: Context) -> Fernet:
    return _fernet_for(context.secret_key)


@functools.cache
def _fernet_for(secret_key: str) -> Fernet:
    key = base64.urlsafe_b64encode(hashlib.sha256(("confirmation-result:" + secret_key).encode()).digest())
    return Fernet(key)


def _seal(context: Context, result: dict[str, Any]) -> dict[str, Any]:
    """A confirmation's result can carry a bearer secret (the redirect URL holds the fresh ticket or
    authorization code, which the desktop page's poll hands to the browser): stored encrypted with the
    platform's secret key, so the database alone never shows it."""
    return {"sealed": _fernet(context).encrypt(json.dumps(result).encode()).decode()}


def _unseal(context: Context, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    if not stored:
        return None
    if "sealed" not in stored:
        return dict(stored)
    try:
        opened: dict[str, Any] = json.loads(_fernet(context).decrypt(stored["sealed"].encode()))
    except InvalidToken:  # sealed under another secret key
        return None
    return opened


def view(uow: UnitOfWork, context: Context, confirmation: Confirmation, now: datetime) -> ConfirmationView:
    name = uow.confirmations.account_name(confirmation.account_appid) or confirmation.account_appid
    return view_named(context, confirmation, now, name)


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
    return {OPENER: secrets.token_hash(opener)} if opener else {}


def opened_by(confirmation: ConfirmationView, opener: str | None) -> bool:
    stored = confirmation.payload.get(OPENER)
    return bool(stored and opener) and secrets.secrets_equal(str(stored), secrets.token_hash(str(opener)))


def _get(uow: UnitOfWork, confirmation_id: str) -> Confirmation:
    """The confirmation whose URL holds ``confirmation_id`` (looked up by its digest)."""
    confirmation = uow.confirmations.get(secrets.token_hash(confirmation_id))
    if confirmation is None:
        raise DomainError(Err.NOT_FOUND)
    return confirmation


def describe(context: Context, confirmation_id: str) -> ConfirmationView:
    with context.uow(readonly=True) as uow:
        return view(uow, context, _get(uow, confirmation_id), uow.clock.now())


def describe_stored(context: Context, digest: str) -> ConfirmationView:
    """The confirmation another record refers to: registrations and tasks keep its digest, not its public id."""
    with context.uow(readonly=True) as uow:
        confirmation = uow.confirmations.get(digest)
        if confirmation is None:
            raise DomainError(Err.NOT_FOUND)
        return view(uow, context, confirmation, uow.clock.now())


def list_for(context: Context, wxid: str, status: str | None = "pending") -> list[ConfirmationView]:
    with context.uow(readonly=True) as uow:
        now = uow.clock.now()
        views = [view(uow, context, row, now) for row in uow.confirmations.for_wxid(wxid)]
    return [v for v in views if status in (None, "", v.status)]


def _run_handler(context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    module_name, _, function = HANDLERS[confirmation.kind].partition(":")
    handler = getattr(importlib.import_module(module_name), function)
    run: Handler = handler
    return run(context, uow, confirmation, action, wxid)


def answer(context: Context, confirmation_id: str, wxid: str, action: str) -> AnswerResult:
    """Confirm or cancel. Only the allowed wxid may answer, once, before expiry; the kind's effect runs in
    the same transaction. A refused answer changes nothing."""
    if action not in (CONFIRM, CANCEL):
        raise DomainError(Err.INVALID_PARAMETER)
    with context.uow() as uow:
        now = uow.clock.now()
        confirmation = _get(uow, confirmation_id)
        if wxid != confirmation.allowed_wxid:
            raise DomainError(Err.NOT_ALLOWED)
        if effective_status(confirmation, now) != ConfirmationStatus.PENDING:
            raise DomainError(Err.CONFIRMATION_CLOSED)
        new_status = ConfirmationStatus.CONFIRMED if action == CONFIRM else ConfirmationStatus.CANCELLED
        # Conditional update: two concurrent answers cannot both win.
        if not uow.confirmations.claim(confirmation, new_status.value, now):
            raise DomainError(Err.CONFIRMATION_CLOSED)
        redirect_url = _run_handler(context, uow, confirmation, action, wxid)
        confirmation.result = _seal(context, {"redirect_url": redirect_url})
        if new_status is ConfirmationStatus.CANCELLED:
            audit.record(
                uow.audit,
                now,
                AuditKind.SCAN_CANCELLED,
                wxid,
                oa_appid=confirmation.account_appid,
                confirmation=confirmation.kind,
            )
        uow.commit()
        return AnswerResult(new_status.value, redirect_url)
