"""Audit events: every state change, with time, actor and the accounts involved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastreg.domain.entities import AuditEventValues
from fastreg.domain.model import AuditKind
from fastreg.services.ports import AuditLog


def event(
    at: datetime,
    kind: AuditKind,
    actor: str,
    *,
    oa_appid: str | None = None,
    mp_appid: str | None = None,
    **detail: Any,
) -> AuditEventValues:
    """An audit event, its ``detail`` the keyword arguments (None when there are none)."""
    return AuditEventValues(
        at=at, kind=kind.value, actor=actor, oa_appid=oa_appid, mp_appid=mp_appid, detail=detail or None
    )


def record(
    log: AuditLog,
    at: datetime,
    kind: AuditKind,
    actor: str,
    *,
    oa_appid: str | None = None,
    mp_appid: str | None = None,
    **detail: Any,
) -> None:
    """Add an event to ``log`` (``uow.audit``)."""
    log.add(event(at, kind, actor, oa_appid=oa_appid, mp_appid=mp_appid, **detail))
