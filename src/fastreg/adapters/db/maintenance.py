"""Whole-database operations: wiping the data (sandbox reset, tests) and creating the schema."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from fastreg.adapters.db.models import Base

# Kept across a sandbox reset: nothing holds data that a reset must remove except these tables' rows.
KEEP_ON_RESET: frozenset[str] = frozenset()


def wipe(session: Session) -> None:
    """Delete every row of every table, children first, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_ON_RESET)
        session.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        return
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in KEEP_ON_RESET:
            session.execute(table.delete())


def wipe_engine(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        wipe(session)
