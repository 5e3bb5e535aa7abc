"""Monthly counters bumped by a conditional upsert: the check and the count are one atomic statement,
so concurrent completions for one OA can never exceed its limit (on PostgreSQL the row lock makes the
second writer re-check ``used < limit``; on SQLite the write lock serializes them)."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import MonthlyCounter, table_of
from fastreg.adapters.db.prepared import PreparedConnection, Rows, prepared

REGISTRATION = "registration"
LINK = "link"


def used(session: Session, oa_id: int, kind: str, month: str) -> int:
    c = table_of(MonthlyCounter).c
    value = session.execute(
        select(c.used).where(c.oa_id == oa_id, c.kind == kind, c.month == month)
    ).scalar_one_or_none()
    return value or 0


def try_increment(
    conn: PreparedConnection | Connection | Session, oa_id: int, kind: str, month: str, limit: int
) -> bool:
    """Count one more for the month if that stays within ``limit``; False when the limit is reached."""
    return limit > 0 and increment(prepared(conn), oa_id, kind, month, limit).first() is not None


def increment(conn: PreparedConnection, oa_id: int, kind: str, month: str, limit: int) -> Rows:
    """The conditional upsert itself: a row when counted, none when ``limit`` was reached (read it late in a
    batch)."""
    params = {"oa_id": oa_id, "counter_kind": kind, "month": month, "limit": limit}
    return conn.execute(sql.counter_upsert(conn.dialect.name), params)
