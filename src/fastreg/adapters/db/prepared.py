"""The hot paths' statements (``statements.py``: Core statements built once at import) run on the unit of work's
connection through SQLAlchemy's public ``Connection.execute``.

A statement built once is compiled once per dialect (SQLAlchemy's compiled cache, keyed by the statement's
structure), its values are bound and its rows read by the column types as everywhere else, and every execution
goes through the engine's events (``before_cursor_execute`` and the ``sqlalchemy.engine`` log): the hot path is
visible to SQL logging and tracing like any other. On PostgreSQL psycopg prepares a statement on the server once
it has run a few times on a connection (its ``prepare_threshold``), and an executemany of an INSERT is sent as
multi-row INSERTs by SQLAlchemy's "insertmanyvalues".

``bench/throughput.py`` measured this against statements run straight on the DBAPI connection and, on
PostgreSQL, through a hand-made libpq pipeline: the figures are in ``bench/README.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.orm import Session

Params = Mapping[str, Any]


class Rows:
    """What a statement gave back: its rows (SQLAlchemy ``Row`` objects, read by attribute) and the number of
    rows it changed."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, rows: Sequence[Any] = (), rowcount: int = 0) -> None:
        self.rows = list(rows)
        self.rowcount = rowcount

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


class PreparedConnection:
    """Runs statements built once (``statements.py``) on ``connection``, in its transaction. A connection given
    outside any transaction and without an isolation level of its own (the event loop's reader of committed
    rows, ``web.deps.WriteGroups.read``) is put in autocommit mode: each statement sees the latest commit and
    holds no lock (on SQLite a transaction would begin with the write lock, ``engine.py``)."""

    __slots__ = ("connection", "dialect")

    def __init__(self, connection: Connection) -> None:
        if not connection.in_transaction() and "isolation_level" not in connection.get_execution_options():
            connection.execution_options(isolation_level="AUTOCOMMIT")
        self.connection = connection
        self.dialect = connection.dialect

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Marks statements that do not depend on each other's results (the ticket's claim and the eligibility
        facts, the completion's writes). They run one after the other, as outside it; kept as the place where
        the hot path's round trips are grouped."""
        yield

    def execute(self, statement: Executable, params: Params | Sequence[Params]) -> Rows:
        """``params``: one statement's values, or a list of them (an executemany, which returns no rows)."""
        if not isinstance(params, Mapping):
            if not params:
                return Rows()
            return Rows((), self.connection.execute(statement, list(params)).rowcount)
        result = self.connection.execute(statement, params)
        if result.returns_rows:  # a DML's RETURNING gives one row per changed row (SQLite counts them only so)
            rows = result.all()
            return Rows(rows, len(rows))
        return Rows((), result.rowcount)

    def execute_driver(self, sql: str) -> None:
        """A statement without parameters or results (SAVEPOINT and the like)."""
        self.connection.exec_driver_sql(sql)

    def commit(self) -> None:
        """Nothing of its own: the unit of work commits through SQLAlchemy."""


def prepared(source: Session | Connection | PreparedConnection) -> PreparedConnection:
    """The statement runner of a session's (or connection's) current transaction."""
    if isinstance(source, PreparedConnection):
        return source
    return PreparedConnection(source.connection() if isinstance(source, Session) else source)
