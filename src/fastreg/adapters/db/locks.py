"""Database locks for check-then-act sequences that have no single row to lock.

On PostgreSQL a transaction-scoped advisory lock on a name serializes the transactions that take it (it is
released at COMMIT or ROLLBACK). SQLite needs none: a write transaction holds the database's write lock from
its BEGIN IMMEDIATE."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session


def lock_name(session: Session, name: str) -> None:
    """Hold the lock named ``name`` until the session's transaction ends (waits while another holds it)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
