"""The hot paths' statements (``statements.py``: Core statements built once at import) run on the unit of work's
connection through SQLAlchemy's public ``Connection.exec_driver_sql``.

Each statement is compiled once per dialect (and per set of inserted columns) by SQLAlchemy's own compiler, and
its values are bound and its rows read by the column types' own processors, so values go in and come out
exactly as through ``Connection.execute``; what is skipped is the statement's compilation-cache lookup and
SQLAlchemy's per-call processing of parameters and result rows (about half of ``Connection.execute``'s cost on an
INSERT). Every execution still goes through the engine's events (``before_cursor_execute``, the
``sqlalchemy.engine`` log), so the hot path is visible to SQL logging and tracing like any other statement. On
PostgreSQL psycopg prepares a statement on the server once it has run a few times on a connection (its
``prepare_threshold``).

Not for general use: no ``IN`` lists, no Python-side defaults other than constants (both refused when a
statement is compiled). ``bench/throughput.py`` measured the choices (``bench/README.md``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, DateTime, Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select

Processor = Callable[[Any], Any] | None
Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Slot:
    """One bound parameter: taken from the caller's parameters by name, or fixed when the statement was built
    (a literal in a WHERE clause, an INSERT column's constant default); run through its type's processor."""

    name: str
    fixed: bool
    value: Any
    process: Processor


class _Plan:
    """A statement compiled for one dialect: its SQL, how to bind a call's parameters, how to read its rows."""

    def __init__(
        self,
        sql: str,
        named: bool,
        slots: Sequence[_Slot],
        row: type[Any] | None,
        result_processors: Sequence[Processor],
    ) -> None:
        self.sql = sql
        self.named = named  # psycopg takes a dict of names; SQLite a sequence in ``slots`` order
        self.row = row  # namedtuple of the returned columns, None when nothing is returned
        # Binding runs for every statement of every request: the caller's values are picked in one C call,
        # and only the slots that need it are touched afterwards.
        taken = [index for index, slot in enumerate(slots) if not slot.fixed]
        self._taken = taken
        self._pick: Callable[[Params], Sequence[Any]] | None = _picker([slots[index].name for index in taken])
        self._template = [slot.value if slot.fixed else None for slot in slots]
        self._processed = [(index, slots[index].process) for index in taken if slots[index].process is not None]
        self._all_taken = len(taken) == len(slots)
        self._names = [slot.name for slot in slots]
        self._results = [(index, process) for index, process in enumerate(result_processors) if process is not None]

    def bind(self, params: Params) -> tuple[Any, ...] | dict[str, Any]:
        values = self.values(params)
        if self.named:
            return dict(zip(self._names, values, strict=True))
        return tuple(values)

    def values(self, params: Params) -> list[Any]:
        """The call's values in ``slots`` order, processed."""
        if self._pick is None:
            values = list(self._template)
        elif self._all_taken:
            values = list(self._pick(params))
        else:
            values = list(self._template)
            for index, value in zip(self._taken, self._pick(params), strict=True):
                values[index] = value
        for index, process in self._processed:
            values[index] = process(values[index])  # type: ignore[misc]
        return values

    def make_row(self, raw: Sequence[Any]) -> Any:
        assert self.row is not None
        if self._results:
            raw = list(raw)
            for index, process in self._results:
                raw[index] = process(raw[index])
        return self.row._make(raw)


def _picker(names: list[str]) -> Callable[[Params], Sequence[Any]] | None:
    if not names:
        return None
    pick = itemgetter(*names)
    if len(names) == 1:
        return lambda params: (pick(params),)
    return pick


# Keyed by the statement itself (not its id, which a collected statement would hand on to a new one).
_plans: dict[tuple[Any, str, tuple[str, ...]], _Plan] = {}


def _returned_columns(statement: Select[Any] | UpdateBase) -> list[Any]:
    if isinstance(statement, Select):
        return list(statement.selected_columns)
    return list(statement.exported_columns)


def _compile(statement: Select[Any] | UpdateBase, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    returned = _returned_columns(statement)
    if isinstance(statement, Insert):
        # Without RETURNING, for_executemany keeps PostgreSQL from adding an implicit RETURNING of the key.
        compiled = statement.compile(dialect=dialect, column_keys=list(keys), for_executemany=not returned)
    else:
        compiled = statement.compile(dialect=dialect)
    if getattr(compiled, "contains_expanding_parameters", False):
        raise ValueError("prepared statements take no IN lists")
    defaults: dict[str, Any] = {}
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"{column} needs a value: its default is not a constant")
        defaults[column.key] = default.arg  # type: ignore[attr-defined]
    binds: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        binds.setdefault(name, bind)  # a name bound twice (``now``) is one value
    order = list(compiled.positiontup or ()) if compiled.positional else list(binds)
    slots = []
    for name in order:
        bind = binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and _is_datetime(bind.type):
            # A transaction binds its ``now`` a dozen times, and formatting it for SQLite is the dearest processor.
            process = lru_cache(maxsize=256)(process)
        if name in defaults or not bind.required:
            value = defaults.get(name, bind.value)
            slots.append(_Slot(name, True, value if process is None else process(value), None))
        else:
            slots.append(_Slot(name, False, None, process))
    row = namedtuple("Row", [column.key for column in returned], rename=True) if returned else None
    return _Plan(
        sql=compiled.string,
        named=not compiled.positional,
        slots=tuple(slots),
        row=row,
        result_processors=tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
        ),
    )


def _is_datetime(type_: Any) -> bool:
    return isinstance(type_, DateTime) or isinstance(getattr(type_, "impl_instance", None), DateTime)


def _plan(statement: Select[Any] | UpdateBase, dialect: Dialect, params: Params) -> _Plan:
    keys = tuple(params) if isinstance(statement, Insert) else ()
    cache_key = (statement, dialect.name, keys)
    plan = _plans.get(cache_key)
    if plan is None:
        plan = _plans[cache_key] = _compile(statement, dialect, keys)
    return plan


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
    outside any transaction (the event loop's reader of committed rows, ``web.deps.WriteGroups.read``) runs each
    statement on its own in autocommit mode: it sees the latest commit, holds no lock (on SQLite a transaction
    would begin with the write lock, ``engine.py``) and keeps no transaction open between statements."""

    __slots__ = ("_autocommit", "connection", "dialect")

    def __init__(self, connection: Connection) -> None:
        self._autocommit = not connection.in_transaction()
        if self._autocommit and "isolation_level" not in connection.get_execution_options():
            connection.execution_options(isolation_level="AUTOCOMMIT")
        self.connection = connection
        self.dialect = connection.dialect

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Marks statements that do not depend on each other's results (the ticket's claim and the eligibility
        facts, the completion's writes). They run one after the other, as outside it; kept as the place where
        the hot path's round trips are grouped."""
        yield

    def execute(self, statement: Select[Any] | UpdateBase, params: Params | Sequence[Params]) -> Rows:
        """``params``: one statement's values, or a list of them (an executemany, which returns no rows)."""
        many: Sequence[Params] = [] if isinstance(params, Mapping) else params
        if not isinstance(params, Mapping) and not many:
            return Rows()
        first: Params = params if isinstance(params, Mapping) else many[0]
        plan = _plan(statement, self.dialect, first)
        if many and plan.row is not None:
            raise ValueError("executemany returns nothing")
        try:
            if many:
                return Rows((), self.connection.exec_driver_sql(plan.sql, [plan.bind(one) for one in many]).rowcount)
            result = self.connection.exec_driver_sql(plan.sql, plan.bind(first))
            if plan.row is None:
                return Rows((), result.rowcount)
            # A DML's RETURNING gives one row per changed row (SQLite counts them only so).
            rows = [plan.make_row(raw) for raw in result.fetchall()]
            return Rows(rows, len(rows))
        finally:
            if self._autocommit:
                # SQLAlchemy's record of the (autocommitted) statement ends here: nothing stays open, and a
                # connection dropped by its owner is given back to the pool at once.
                self.connection.commit()

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
