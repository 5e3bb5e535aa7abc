"""Whole-database operations: wiping the data (sandbox reset, tests), creating the schema, and the readiness
probe."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from fastreg.adapters.db.models import Base, SandboxState

READINESS_KEY = "readiness-probe"

# Kept across a sandbox reset: nothing holds data that a reset must remove except these tables' rows.
KEEP_ON_RESET: frozenset[str] = frozenset()


def wipe(session: Session) -> None:
    """Delete every row of every table, children first, in the caller's transaction. DELETE rather than
    TRUNCATE on PostgreSQL: TRUNCATE takes an exclusive lock that waits on (and deadlocks with) every other
    open transaction, such as a worker's push loop, while DELETE only locks the rows it removes."""
    for table in reversed(Base.metadata.sorted_tables):
        if table.name not in KEEP_ON_RESET:
            session.execute(table.delete())


def wipe_engine(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        wipe(session)


def probe_write(session: Session) -> None:
    """Write one row in the caller's transaction (which the caller rolls back): fails when the database is
    unreachable, read-only (a standby, a read-only file) or its write lock cannot be had."""
    session.add(SandboxState(key=READINESS_KEY, value={}))
    session.flush()
