"""Execution of the hot paths' Core statements (``statements.py``, built once at import) straight on the
transaction's DBAPI connection, every one of them announced to the engine's ``before_cursor_execute`` listeners
(SQL logging, tracing) as SQLAlchemy's own execution would.

Each statement is compiled once per dialect (and per set of inserted columns) with SQLAlchemy's own compiler, and
its bind and result processors are taken from the column types, so values go in and come out exactly as through
``Connection.execute``; only the per-call machinery is skipped. On SQLite the statements run on the sqlite3
cursor; on PostgreSQL they are sent in batches through libpq's pipeline (``pgpipeline``), one round trip each.

Why not SQLAlchemy's public execution (``Connection.execute`` with its compiled cache, or ``exec_driver_sql``
of these compiled statements, psycopg preparing them on the server)? Both were measured against this layer
(``bench/throughput.py --compare``, ``bench/README.md``): about 3x the server CPU per registration on
PostgreSQL (one socket wait and some 140 µs of psycopg's asyncio cursor per statement, against one wait per
batch here) and +30-70 % of the use case's CPU on SQLite. The listeners get ``context=None`` (no SQLAlchemy
execution context exists for these statements) and, on PostgreSQL, ``cursor=None`` (the statement is queued).

Not for general use: no ``IN`` lists, no Python-side defaults other than constants (both refused when a
statement is compiled).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat
from psycopg.waiting import wait as psycopg_wait
from sqlalchemy import Connection, DateTime, Engine, Insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.util import await_only

from fastreg.adapters.db.models import UTCDateTime
from fastreg.adapters.db.pgpipeline import Answer, PostgresBatch, Waiter, multi_row_sql, wait_on_loop, wire_sql

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
    binary: bool = False  # PostgreSQL: sent in binary (an aware timestamp: 8 bytes, not text to dump and parse)


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
        # PostgreSQL, sent through libpq (``pgpipeline``): the SQL with ``$n`` in ``slots`` order.
        self.wire_sql = wire_sql(sql, self._names) if named else b""
        self.formats = tuple(PyFormat.BINARY if slot.binary else PyFormat.TEXT for slot in slots)
        self._wire_rows: dict[int, bytes | None] = {}

    def bind(self, params: Params) -> Sequence[Any] | dict[str, Any]:
        values = self.values(params)
        if self.named:
            return dict(zip(self._names, values, strict=True))
        return values

    def wire_sql_rows(self, count: int) -> bytes | None:
        """PostgreSQL: this INSERT for ``count`` rows in one statement (None when it cannot be)."""
        if count not in self._wire_rows:
            self._wire_rows[count] = multi_row_sql(self.wire_sql, len(self._names), count)
        return self._wire_rows[count]

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
        binary = False
        if _is_datetime(bind.type):
            process = _datetime_processor(bind.type, dialect)
            # Cast to TIMESTAMP WITH TIME ZONE in the SQL, so the server expects psycopg's binary timestamptz.
            binary = dialect.name == "postgresql" and _is_aware(bind.type)
        else:
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in defaults or not bind.required:
            value = defaults.get(name, bind.value)
            slots.append(_Slot(name, True, value if process is None else process(value), None, binary))
        else:
            slots.append(_Slot(name, False, None, process, binary))
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


def _is_aware(type_: Any) -> bool:
    """A timestamp type whose bound values are aware datetimes (``UTCDateTime``: its processor makes them so)."""
    return isinstance(type_, UTCDateTime) and bool(getattr(type_.impl_instance, "timezone", False))


# One cached processor per datetime type and dialect, shared by every statement: a registration binds its
# ``now`` in a dozen statements, and formatting it for SQLite is the dearest processor.
_datetime_processors: dict[tuple[type[Any], bool, str], Processor] = {}


def _datetime_processor(type_: Any, dialect: Dialect) -> Processor:
    key = (type(type_), bool(getattr(type_, "timezone", False)), dialect.name)
    if key not in _datetime_processors:
        process = type_.dialect_impl(dialect).bind_processor(dialect)
        _datetime_processors[key] = None if process is None else lru_cache(maxsize=1024)(process)
    return _datetime_processors[key]


def _plan(statement: Select[Any] | UpdateBase, dialect: Dialect, params: Params) -> _Plan:
    keys = tuple(params) if isinstance(statement, Insert) else ()
    cache_key = (statement, dialect.name, keys)
    plan = _plans.get(cache_key)
    if plan is None:
        plan = _plans[cache_key] = _compile(statement, dialect, keys)
    return plan


class Rows:
    """What a prepared statement gave back: its rows (named tuples) and the number of rows it changed. Inside
    a batch on PostgreSQL they arrive later: the first look at them waits for the batch's answers."""

    __slots__ = ("_fetch", "_rowcount", "_rows")

    def __init__(
        self,
        rows: list[Any] | None = None,
        rowcount: int = 0,
        *,
        fetch: Callable[[], tuple[list[Any], int]] | None = None,
    ) -> None:
        self._rows = rows or []
        self._rowcount = rowcount
        self._fetch = fetch

    def _ready(self) -> None:
        if self._fetch is not None:
            fetch, self._fetch = self._fetch, None
            self._rows, self._rowcount = fetch()

    @property
    def rows(self) -> list[Any]:
        self._ready()
        return self._rows

    @property
    def rowcount(self) -> int:
        self._ready()
        return self._rowcount

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def scalar_one(self) -> Any:
        return self.one()[0]


# An executemany of up to this many rows goes as one multi-row INSERT (each count is a statement prepared on
# every connection, so larger ones go row by row, still in one round trip).
MULTI_ROW_MAX = 16


# How long a blocking wait sleeps on the socket before it looks again (psycopg's own connections use the same):
# given explicitly, since psycopg 3.3's default of 0 polls without sleeping, a busy loop for the whole wait.
BLOCKING_WAIT_INTERVAL = 0.1


def _blocking_wait(gen: Any, fileno: int) -> Any:
    return psycopg_wait(gen, fileno, interval=BLOCKING_WAIT_INTERVAL)


def _wait_for(dbapi: Any) -> Waiter:
    if isinstance(dbapi, psycopg.AsyncConnection):
        return lambda gen, fileno: await_only(wait_on_loop(gen, fileno))
    return _blocking_wait


class PreparedConnection:
    """Runs prepared statements on the DBAPI connection under ``connection`` (same transaction): through
    libpq's pipeline on PostgreSQL (``pgpipeline``), through the sqlite3 cursor on SQLite."""

    __slots__ = (
        "_batch",
        "_dbapi",
        "_events",
        "_failed",
        "_queued",
        "_ride",
        "_riding",
        "_wait",
        "connection",
        "dialect",
    )

    def __init__(
        self, connection: Connection, wait: Waiter | None = None, *, announce_to: Engine | None = None
    ) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        dbapi = connection.connection.driver_connection
        assert dbapi is not None, "the connection is open"
        self._dbapi = dbapi
        # How libpq's work waits on the socket: on the event loop for psycopg's asyncio connections (the caller
        # is in a greenlet), else blocking with the GIL released (psycopg's C wait).
        self._wait: Waiter | None = (wait or _wait_for(dbapi)) if hasattr(dbapi, "pgconn") else None
        self._batch: PostgresBatch | None = None  # the open batch (inside ``batch()`` or ``deferred()``)
        self._queued: PostgresBatch | None = None  # statements ``deferred()`` left to go with the next round trip
        self._failed = False  # a batch was given up (its statements, and any deferred before, never sent)
        self._ride: RideAlong | None = None  # to go with the next batch made (``ride_along``)
        self._riding: tuple[PostgresBatch, Callable[[], None]] | None = None  # the batch it went with, its check
        # The connection's event dispatcher, taken once per unit of work: SQLAlchemy builds it anew at each look
        # (some 10 µs, a tenth of a registration's CPU over its statements). The runner's loop connections belong
        # to an engine of their own: ``announce_to`` (the platform's engine) is whose SQL hooks hear them.
        self._events = announce_to.dispatch if announce_to is not None else connection.dispatch

    def batch(self) -> BatchScope:
        """Statements executed inside go to PostgreSQL together, in one round trip, when the batch ends (or
        when one of their results is looked at), and their ``Rows`` are read afterwards; an error in any of
        them is raised then, and fails the transaction. On SQLite, which has no round trips, statements run
        one by one as outside a batch."""
        return BatchScope(self, send=True)

    def deferred(self) -> BatchScope:
        """As ``batch()``, but what is queued inside is not sent when it ends: it goes with the connection's
        next round trip (the COMMIT's, at the latest), or when one of its results is looked at. Writes whose
        outcome nothing waits for save their own round trip so; an error in them is raised by that later
        round trip (the commit). Dropped unsent by ``discard()`` (the rollback)."""
        return BatchScope(self, send=False)

    def ride_along(self, ride: RideAlong) -> None:
        """PostgreSQL: send ``ride``'s read with the next round trip, and run its check as soon as that round trip
        is answered, before any of its other results is looked at. Ignored on SQLite (its reads cost no round
        trip): the ride is then never taken."""
        if self._wait is not None:
            self._ride = ride

    def _new_batch(self) -> PostgresBatch:
        assert self._wait is not None
        batch = PostgresBatch(self._dbapi, self._wait)
        ride, self._ride = self._ride, None
        if ride is not None:
            ride.taken = True
            plan = _plan(ride.statement, self.dialect, ride.params)
            if self._events.before_cursor_execute:
                self._announce(plan.sql, plan.bind(ride.params), False)
            answer = Answer()
            batch.queue(plan.wire_sql, plan.values(ride.params), plan.formats, answer)
            self._riding = (batch, lambda: ride.check([plan.make_row(row) for row in answer.rows]))
        return batch

    def _open_batch(self, *, send: bool) -> PostgresBatch | None:
        """The batch a scope opens (it takes what ``deferred()`` queued); None inside another, or on SQLite."""
        if self._batch is not None or self._wait is None:
            return None
        if not send and self._ride is not None:
            # A ride is checked before anything is done: never with writes that may go with the COMMIT.
            self._send(self._new_batch())
        queued, self._queued = self._queued, None
        batch = self._batch = queued or self._new_batch()
        return batch

    def _close_batch(self, batch: PostgresBatch, *, failed: bool, send: bool) -> None:
        self._batch = None
        if failed:
            # Not sent, nor what was deferred before: the transaction can only be rolled back now, even if the
            # caller went on (``commit`` refuses), so that nothing is committed half-done.
            batch.discard()
            self._failed = True
        elif send:
            self._send(batch)
        else:
            self._queued = batch

    def send_queued(self) -> None:
        """Send now what ``deferred()`` queued, and a ride not yet sent (before statements that do not go through
        this runner)."""
        if self._queued is not None:
            self._send(self._queued)
        elif self._ride is not None and self._batch is None:
            self._send(self._new_batch())

    def discard(self) -> None:
        """Drop what ``deferred()`` left unsent (the transaction is rolled back): it is never sent, and looking
        at its results raises."""
        queued, self._queued = self._queued, None
        if queued is not None:
            queued.discard()

    def execute_driver(self, sql: str) -> None:
        """A statement without parameters or results (SAVEPOINT and the like), straight on the driver."""
        batch = None if self._wait is None else self._current()  # first: a new batch announces its ride
        if self._events.before_cursor_execute:
            self._announce(sql, None, False)
        if batch is None:
            self._dbapi.execute(sql)
            return
        batch.queue_command(sql.encode())
        if batch is not self._batch:
            self._send(batch)

    def data_version(self) -> int | None:
        """SQLite: a number that changes whenever another connection commits a change (``PRAGMA data_version``;
        about a tenth of a short read), so that what this connection read can be kept until then. None on
        PostgreSQL, which tells no such thing."""
        if self._wait is not None:
            return None
        version: int = self._dbapi.execute("PRAGMA data_version").fetchone()[0]
        return version

    def commit(self) -> None:
        """PostgreSQL: COMMIT the transaction a batch began, in one round trip of its own (psycopg's commit
        then finds nothing to do). SQLite: nothing here, SQLAlchemy commits."""
        if self._failed:
            raise RuntimeError("a batch of statements was given up in this transaction: it can only be rolled back")
        if self._wait is None or self._batch is not None:
            return
        if self._queued is not None or self._dbapi.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            self.execute_driver("COMMIT")  # with what ``deferred()`` queued, in one round trip

    def execute(self, statement: Select[Any] | UpdateBase, params: Params | Sequence[Params]) -> Rows:
        # A dict first: the check against the Mapping ABC costs five times as much, a dozen times per request.
        many: Sequence[Params]
        if isinstance(params, (dict, Mapping)):
            first: Params = params
            many = ()
        else:
            many = params
            if not many:
                return Rows()
            first = many[0]
        plan = _plan(statement, self.dialect, first)
        if many and plan.row is not None:
            raise ValueError("executemany returns nothing")
        listeners = self._events.before_cursor_execute
        if self._wait is not None:
            batch = self._current()  # first: a new batch announces the ride it takes
            if listeners:
                self._announce(plan.sql, [plan.bind(one) for one in many] if many else plan.bind(first), bool(many))
            return self._execute_postgres(plan, many or [first], batch)
        bound = [plan.bind(one) for one in many] if many else plan.bind(first)
        if listeners:
            self._announce(plan.sql, bound, bool(many))
        cursor = self._dbapi.cursor()
        try:
            if many:
                cursor.executemany(plan.sql, bound)
            else:
                cursor.execute(plan.sql, bound)
            raw = cursor.fetchall() if plan.row is not None else []
            return Rows([plan.make_row(one) for one in raw], cursor.rowcount)
        finally:
            cursor.close()

    def _announce(self, sql: str, parameters: Any, many: bool) -> None:
        """Tell the engine's ``before_cursor_execute`` listeners (SQL logging, tracing) what is about to run, as
        SQLAlchemy's own execution does (without a cursor or an execution context)."""
        for listener in self._events.before_cursor_execute:
            listener(self.connection, None, sql, parameters, None, many)

    def _execute_postgres(self, plan: _Plan, calls: Sequence[Params], batch: PostgresBatch) -> Rows:
        few = 1 < len(calls) <= MULTI_ROW_MAX and plan.row is None
        together = plan.wire_sql_rows(len(calls)) if few else None
        if together is not None:  # executemany of an INSERT: one multi-row statement
            answers = [Answer()]
            values = [value for params in calls for value in plan.values(params)]
            batch.queue(together, values, plan.formats * len(calls), answers[0])
        else:
            answers = [Answer() for _ in calls]
            for params, answer in zip(calls, answers, strict=True):
                batch.queue(plan.wire_sql, plan.values(params), plan.formats, answer)

        def fetch() -> tuple[list[Any], int]:
            self._send(batch)  # looked at before its batch was sent: send what is queued now (else nothing to send)
            return [plan.make_row(row) for answer in answers for row in answer.rows], sum(
                answer.rowcount for answer in answers
            )

        if batch is self._batch:
            return Rows(fetch=fetch)
        self._send(batch)
        rows, rowcount = fetch()
        return Rows(rows, rowcount)

    def _current(self) -> PostgresBatch:
        """Where a statement goes: the open batch, else with what ``deferred()`` queued, else a batch of its own."""
        assert self._wait is not None
        return self._batch or self._queued or self._new_batch()

    def _send(self, batch: PostgresBatch) -> None:
        if batch is self._queued:
            self._queued = None
        batch.send()
        riding = self._riding
        if riding is not None and riding[0] is batch:
            self._riding = None
            riding[1]()


class RideAlong:
    """A read that goes with the first round trip of a use case's units of work (``PreparedConnection.ride_along``)
    instead of a round trip of its own, and the check of its rows, run as soon as that round trip is answered:
    raising there fails the unit of work before it has used any answer. ``taken`` once sent with a batch."""

    __slots__ = ("check", "params", "statement", "taken")

    def __init__(self, statement: Select[Any], params: Params, check: Callable[[list[Any]], None]) -> None:
        self.statement = statement
        self.params = params
        self.check = check
        self.taken = False


class BatchScope:
    """The ``with`` block of ``PreparedConnection.batch()`` and ``deferred()`` (a class: a request opens several,
    and a generator-based context manager costs several times as much)."""

    __slots__ = ("_batch", "_conn", "_send")

    def __init__(self, conn: PreparedConnection, *, send: bool) -> None:
        self._conn = conn
        self._send = send
        self._batch: PostgresBatch | None = None

    def __enter__(self) -> None:
        self._batch = self._conn._open_batch(send=self._send)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if self._batch is not None:
            self._conn._close_batch(self._batch, failed=exc_type is not None, send=self._send)


def prepared(source: Session | Connection | PreparedConnection) -> PreparedConnection:
    """The prepared-statement runner of a session's (or connection's) current transaction."""
    if isinstance(source, PreparedConnection):
        return source
    return PreparedConnection(source.connection() if isinstance(source, Session) else source)
