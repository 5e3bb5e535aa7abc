"""Audit events: every state change, with time, actor and the accounts involved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from fastreg.adapters.db.models import AuditEvent
from fastreg.domain.model import AuditKind


def record(
    session: Session,
    at: datetime,
    kind: AuditKind,
    actor: str,
    *,
    oa_appid: str | None = None,
    mp_appid: str | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(at=at, kind=kind.value, actor=actor, oa_appid=oa_appid, mp_appid=mp_appid, detail=detail or None)
    )
