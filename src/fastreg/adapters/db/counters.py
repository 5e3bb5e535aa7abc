"""Monthly counters bumped by a conditional UPDATE: the check and the count are one atomic statement,
so concurrent completions for one OA can never exceed its limit (on PostgreSQL the row lock makes the
second writer re-check ``used < limit``; on SQLite the write lock serializes them)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from fastreg.adapters.db.models import MonthlyCounter

REGISTRATION = "registration"
LINK = "link"


def used(session: Session, oa_id: int, kind: str, month: str) -> int:
    value = session.execute(
        select(MonthlyCounter.used).where(
            MonthlyCounter.oa_id == oa_id, MonthlyCounter.kind == kind, MonthlyCounter.month == month
        )
    ).scalar_one_or_none()
    return value or 0


def try_increment(session: Session, oa_id: int, kind: str, month: str, limit: int) -> bool:
    """Count one more for the month if that stays within ``limit``; False when the limit is reached.
    One statement: insert the month's row at 1, or add 1 to it only while it is below the limit."""
    if limit <= 0:
        return False
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(MonthlyCounter).values(oa_id=oa_id, kind=kind, month=month, used=1)
    upsert = statement.on_conflict_do_update(
        index_elements=["oa_id", "kind", "month"],
        set_={"used": MonthlyCounter.used + 1},
        where=MonthlyCounter.used < limit,
    ).returning(MonthlyCounter.used)
    return session.execute(upsert).first() is not None


def decrement(session: Session, oa_id: int, kind: str, month: str) -> None:
    session.execute(
        update(MonthlyCounter)
        .where(
            MonthlyCounter.oa_id == oa_id,
            MonthlyCounter.kind == kind,
            MonthlyCounter.month == month,
            MonthlyCounter.used > 0,
        )
        .values(used=MonthlyCounter.used - 1)
        .execution_options(synchronize_session=False)
    )
