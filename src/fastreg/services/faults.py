"""Injected faults (``domain.faults``), kept in the database so that every worker of a server agrees on them:
one ``sandbox_state`` row per fault (``fault:<id>``), wiped by the sandbox reset like every other setting.

Every ``/cgi-bin`` call of a sandbox reads the armed faults of its path (:func:`armed`, one indexed range read
of a table that holds a handful of rows); only a call that matches one writes, to take one of its ``times``
(:func:`consume`, a locked read-modify-write: concurrent calls never take more than ``times``)."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Any

from sqlalchemy import select

from fastreg.adapters import crypto
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.clock import utc_iso
from fastreg.adapters.db.models import SandboxState, table_of
from fastreg.adapters.db.prepared import PreparedConnection, prepared
from fastreg.domain.faults import Fault, FaultSpec
from fastreg.platform import Platform

KEY_PREFIX = "fault:"
_KEY_END = "fault;"  # ";" follows ":": the keys of faults are exactly those in [KEY_PREFIX, _KEY_END)

_state = table_of(SandboxState)
FAULT_ROWS = select(_state.c.key, _state.c.value).where(_state.c.key >= KEY_PREFIX, _state.c.key < _KEY_END)


def _faults(rows: Any) -> list[Fault]:
    found = [Fault.from_state(key.removeprefix(KEY_PREFIX), dict(value)) for key, value in rows]
    return sorted(found, key=lambda fault: (fault.order, fault.id))


def create(platform: Platform, spec: FaultSpec) -> Fault:
    with platform.uow() as uow:
        fault = Fault(
            **asdict(spec),
            id=secrets.token_hex(8),
            remaining=spec.times,
            created_at=utc_iso(uow.clock.now()),
            order=time.time_ns(),
        )
        uow.session.add(SandboxState(key=KEY_PREFIX + fault.id, value=fault.state()))
        uow.commit()
    return fault


def list_all(platform: Platform) -> list[Fault]:
    with platform.uow(readonly=True) as uow:
        return _faults(prepared(uow.session).execute(FAULT_ROWS, {}).rows)


def armed(conn: PreparedConnection, path: str) -> list[Fault]:
    """The faults that may still fire on ``path``, oldest first (what every ``/cgi-bin`` call asks)."""
    rows = conn.execute(FAULT_ROWS, {}).rows
    if not rows:
        return []
    return [fault for fault in _faults(rows) if fault.path == path and fault.remaining > 0]


def consume(platform: Platform, fault_id: str) -> Fault | None:
    """Take one of the fault's remaining times; None when another call took the last one (or it is gone)."""
    with platform.uow() as uow:
        row = uow.session.get(SandboxState, KEY_PREFIX + fault_id, with_for_update=True)
        if row is None:
            return None
        fault = Fault.from_state(fault_id, dict(row.value))
        if fault.remaining <= 0:
            return None
        row.value = {**row.value, "remaining": fault.remaining - 1}
        uow.commit()
        return fault


def delete(platform: Platform, fault_id: str) -> bool:
    with platform.uow() as uow:
        row = uow.session.get(SandboxState, KEY_PREFIX + fault_id)
        if row is None:
            return False
        uow.session.delete(row)
        uow.commit()
        return True


def delete_all(platform: Platform) -> int:
    with platform.uow() as uow:
        rows = uow.session.execute(
            select(SandboxState).where(SandboxState.key >= KEY_PREFIX, SandboxState.key < _KEY_END)
        ).scalars()
        count = 0
        for row in rows:
            uow.session.delete(row)
            count += 1
        uow.commit()
        return count


def token_subject(platform: Platform, raw: str) -> str | None:
    """The appid (account or component) a token speaks for, whatever its state; None for an unknown one."""
    with platform.uow(readonly=True) as uow:
        row = uow.conn.execute(sql.TOKEN, {"token_hash": crypto.token_hash(raw)}).first()
    return None if row is None else str(row.subject)
