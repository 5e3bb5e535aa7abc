"""Injected faults (``domain.faults``), kept in the database so that every worker of a server agrees on them
(``uow.sandbox_state``: one row per fault, wiped by the sandbox reset like every other setting).

Every ``/cgi-bin`` call of a sandbox reads the faults (one indexed range read of a table that holds a handful of
rows, by the web layer's short read; on SQLite kept until another connection commits) and keeps the armed ones
of its path (:func:`armed`); only a call that matches one writes, to take one of its ``times`` (:func:`consume`,
a locked read-modify-write: concurrent calls never take more than ``times``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import asdict, replace
from datetime import UTC

from fastreg.domain.clock import as_utc
from fastreg.domain.faults import Fault, FaultSpec
from fastreg.domain.secrets import token_hash
from fastreg.services.ports import Context


def create(context: Context, spec: FaultSpec) -> Fault:
    with context.uow() as uow:
        fault = Fault(
            **asdict(spec),
            id=secrets.token_hex(8),
            remaining=spec.times,
            created_at=as_utc(uow.clock.now()).astimezone(UTC).isoformat().replace("+00:00", "Z"),
            order=time.time_ns(),
        )
        uow.sandbox_state.add_fault(fault)
        uow.commit()
    return fault


def list_all(context: Context) -> list[Fault]:
    with context.uow(readonly=True) as uow:
        return uow.sandbox_state.faults()


def armed(faults: Iterable[Fault], path: str) -> list[Fault]:
    """The faults that may still fire on ``path``, oldest first (what every ``/cgi-bin`` call asks)."""
    return [fault for fault in faults if fault.path == path and fault.remaining > 0]


def consume(context: Context, fault_id: str) -> Fault | None:
    """Take one of the fault's remaining times; None when another call took the last one (or it is gone)."""
    with context.uow() as uow:
        fault = uow.sandbox_state.lock_fault(fault_id)
        if fault is None or fault.remaining <= 0:
            return None
        uow.sandbox_state.save_fault(replace(fault, remaining=fault.remaining - 1))
        uow.commit()
        return fault


def delete(context: Context, fault_id: str) -> bool:
    with context.uow() as uow:
        deleted = uow.sandbox_state.delete_fault(fault_id)
        uow.commit()
        return deleted


def delete_all(context: Context) -> int:
    with context.uow() as uow:
        count = uow.sandbox_state.delete_faults()
        uow.commit()
        return count


def token_subject(context: Context, raw: str) -> str | None:
    """The appid (account or component) a token speaks for, whatever its state; None for an unknown one."""
    with context.uow(readonly=True) as uow:
        return uow.credentials.token_subject(token_hash(raw))
