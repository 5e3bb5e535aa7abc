"""Prepared statements sent straight through libpq's pipeline mode (PostgreSQL only).

psycopg's cursors cost some 50 µs of Python per statement (a cursor, query conversion, the prepare cache, and
one wait on the socket per statement even inside its pipeline), about half of ``account/fastregister``'s time
with its dozen statements. Here a batch of statements is queued on the connection's libpq object with the
values dumped by psycopg's own (C) transformer, and the whole batch is sent and answered in one wait: one
round trip, one pass through Python per statement. Each statement is prepared once per connection under a
name of its own (``fastreg_N``, apart from psycopg's).

The connection stays psycopg's: the batch starts the transaction when none is open (as psycopg would, with
BEGIN), and ends with every answer read and pipeline mode left, so psycopg and SQLAlchemy find the connection
as they expect. The unit of work's COMMIT goes this way too (``PreparedConnection.commit``), leaving psycopg's
commit nothing to do; ROLLBACK stays psycopg's. psycopg itself is set to prepare nothing (``engine.py``): after
DDL it would clear its prepared statements with DEALLOCATE ALL, ours included.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer
from psycopg.waiting import Ready, Wait

_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_PLACEHOLDER = re.compile(rb"%\((\w+)\)s|%%")

# Runs a generator of libpq work to its end on the connection's socket: the generator yields what it waits
# for and is sent what is ready (psycopg's waiting protocol), so the same batch runs under a blocking wait (a
# worker thread) and on the event loop (a greenlet).
Waiter = Callable[[Any, int], Any]


def wire_sql(sql: str, names: Sequence[str]) -> bytes:
    """psycopg's ``%(name)s`` placeholders as ``$n`` (n: the name's place in ``names``), ``%%`` as ``%``."""
    position = {name.encode(): f"${index}".encode() for index, name in enumerate(names, 1)}

    def replace(match: re.Match[bytes]) -> bytes:
        return b"%" if match.group(0) == b"%%" else position[match.group(1)]

    return _PLACEHOLDER.sub(replace, sql.encode())


async def wait_on_loop(gen: Generator[Wait, Ready, Any], fileno: int) -> Any:
    """Run a libpq generator on the running event loop: each wait is one future resolved by the loop's
    reader (or writer) callback on the connection's socket. Leaner than psycopg's ``wait_async``, which also
    arms a timer at every wait; a batch waits once or twice."""
    loop = asyncio.get_running_loop()
    try:
        state = next(gen)
        while True:
            woken: asyncio.Future[Ready] = loop.create_future()
            if state & Wait.R:
                loop.add_reader(fileno, _wake, woken, Ready.R)
            if state & Wait.W:
                loop.add_writer(fileno, _wake, woken, Ready.W)
            try:
                ready = await woken
            finally:
                if state & Wait.R:
                    loop.remove_reader(fileno)
                if state & Wait.W:
                    loop.remove_writer(fileno)
            state = gen.send(ready)
    except StopIteration as done:
        return done.value


def _wake(woken: asyncio.Future[Ready], ready: Ready) -> None:
    if not woken.done():
        woken.set_result(ready)


_NUMBERED = re.compile(rb"\$(\d+)")


def multi_row_sql(sql: bytes, per_row: int, rows: int) -> bytes | None:
    """``INSERT ... VALUES ($1, .., $k)`` for ``rows`` rows in one statement (placeholders renumbered), or None
    when ``sql`` does not end with its VALUES list (RETURNING, ON CONFLICT)."""
    head, found, values = sql.rpartition(b" VALUES (")
    if not found or not head.startswith(b"INSERT INTO ") or _closing_paren(values) != len(values) - 1:
        return None

    def shifted(offset: int) -> bytes:
        return _NUMBERED.sub(lambda match: b"$%d" % (int(match.group(1)) + offset), b"(" + values)

    return head + b" VALUES " + b", ".join(shifted(row * per_row) for row in range(rows))


def _closing_paren(text: bytes) -> int:
    """Where the parenthesis opened just before ``text`` closes (-1: it does not)."""
    depth = 1
    for index, char in enumerate(text):
        depth += (char == 40) - (char == 41)  # "(" and ")"
        if depth == 0:
            return index
    return -1


class Answer:
    """One statement's answer once its batch has been read: loaded rows (tuples) and the rows it changed."""

    __slots__ = ("rowcount", "rows")

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.rowcount = 0


class _Names:
    """The statements prepared on each libpq connection, by SQL (forgotten with the connection): a statement is
    recorded once its PREPARE has succeeded. Names are never reused on a connection, so a PREPARE whose
    outcome was lost cannot collide with a later one."""

    def __init__(self) -> None:
        self.by_sql: dict[bytes, bytes] = {}
        self.issued = 0

    def new(self) -> bytes:
        self.issued += 1
        return f"fastreg_{self.issued}".encode()


_names: weakref.WeakKeyDictionary[Any, _Names] = weakref.WeakKeyDictionary()


class _Begin:
    pass


class _Prepare:
    __slots__ = ("name", "sql")

    def __init__(self, sql: bytes, name: bytes) -> None:
        self.sql = sql
        self.name = name


Expected = Answer | _Prepare | _Begin


class PostgresBatch:
    """Statements queued on one psycopg connection, sent together by :meth:`send`."""

    def __init__(self, connection: Any, wait: Waiter) -> None:
        self._connection = connection
        self._pgconn = connection.pgconn
        self._wait = wait
        self._transformer = Transformer.from_context(connection)
        self._commands: list[Callable[[], Any]] = []
        self._expected: list[Expected] = []  # what each command's answer is for, in order
        names = _names.get(self._pgconn)
        if names is None:
            names = _names[self._pgconn] = _Names()
        self._names = names
        self._preparing: dict[bytes, bytes] = {}  # PREPAREs queued in this batch, not yet answered
        self._failure: Exception | None = None
        self._discarded = False

    def discard(self) -> None:
        """Forget what is queued (its transaction is rolled back): never sent; sending raises from now on."""
        self._discarded = True
        self._commands, self._expected, self._preparing = [], [], {}

    def queue_command(self, sql: bytes) -> None:
        """Queue a statement without parameters (SAVEPOINT and the like), not prepared."""
        self._begin_if_idle()
        self._commands.append(lambda: self._pgconn.send_query_params(sql, None))
        self._expected.append(Answer())

    def _begin_if_idle(self) -> None:
        if self._commands:
            return
        pgconn = self._pgconn
        if pgconn.transaction_status == pq.TransactionStatus.IDLE and not self._connection.autocommit:
            # The transaction begins with the first statement, as psycopg would begin it.
            self._commands.append(lambda: pgconn.send_query_params(b"BEGIN", None))
            self._expected.append(_Begin())

    def queue(self, sql: bytes, values: Sequence[Any], formats: Sequence[PyFormat], answer: Answer) -> None:
        """Queue one execution of ``sql`` (``$n`` placeholders) with ``values``, each dumped in its format of
        ``formats`` (TEXT, or BINARY where the statement casts the parameter to the type of psycopg's binary
        dump); ``answer`` is filled by :meth:`send`."""
        pgconn = self._pgconn
        self._begin_if_idle()
        name = self._names.by_sql.get(sql) or self._preparing.get(sql)
        if name is None:
            name = self._preparing[sql] = self._names.new()
            self._commands.append(lambda: pgconn.send_prepare(name, sql))
            self._expected.append(_Prepare(sql, name))
        dumped: Sequence[Any] | None = None
        sent_as: Sequence[Any] | None = None
        if values:
            dumped = self._transformer.dump_sequence(values, formats)
            if PyFormat.BINARY in formats:
                sent_as = self._transformer.formats
        self._commands.append(lambda: pgconn.send_query_prepared(name, dumped, sent_as))
        self._expected.append(answer)

    def send(self) -> None:
        """Send what is queued and read every answer (one round trip); raises the first error the database
        reported (the transaction is then failed, as after any error)."""
        if self._discarded:
            raise RuntimeError("these statements were discarded with their rolled-back transaction")
        if not self._commands:
            return
        commands, self._commands = self._commands, []
        expected, self._expected = self._expected, []
        self._preparing = {}
        self._failure = None
        roundtrip = self._roundtrip(commands, expected)
        try:
            self._wait(roundtrip, self._pgconn.socket)
        except BaseException:
            roundtrip.close()  # the wait itself was interrupted (a cancelled task): leave pipeline mode now
            raise
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _roundtrip(self, commands: list[Callable[[], Any]], expected: list[Expected]) -> Generator[Wait, Ready, None]:
        pgconn = self._pgconn
        pending = iter(expected)
        pgconn.enter_pipeline_mode()
        synced = False
        try:
            for command in commands:
                command()
            pgconn.pipeline_sync()
            synced = True
            while pgconn.flush():  # nonblocking: what did not fit waits for the socket to drain
                ready = yield Wait.RW
                if ready & Ready.R:
                    pgconn.consume_input()
            while True:
                if pgconn.is_busy():
                    yield Wait.R
                    pgconn.consume_input()
                    continue
                if not self._take(pgconn.get_result(), pending):
                    break
        except BaseException:
            # Interrupted (cancelled, or the connection failed): read the rest as it comes, then leave.
            self._abandon(synced, pending)
            raise
        pgconn.exit_pipeline_mode()

    def _take(self, result: Any, pending: Iterator[Expected]) -> bool:
        """Handle one libpq result; False at the end of the batch (its sync point)."""
        if result is None:
            return True  # the separator after each statement's result
        status = result.status
        if status == pq.ExecStatus.PIPELINE_SYNC:
            return False
        wanted = next(pending)
        if status in _OK:
            if isinstance(wanted, _Prepare):
                self._names.by_sql[wanted.sql] = wanted.name
            elif isinstance(wanted, Answer):
                wanted.rowcount = result.command_tuples or 0
                if result.ntuples:
                    self._transformer.set_pgresult(result)
                    wanted.rows = self._transformer.load_rows(0, result.ntuples, tuple)
            return True
        if status == pq.ExecStatus.FATAL_ERROR and self._failure is None:
            self._failure = errors.error_from_result(result, encoding=self._connection.info.encoding)
        return True

    def _abandon(self, synced: bool, pending: Iterator[Expected]) -> None:
        pgconn = self._pgconn
        try:
            pgconn.nonblocking = 0
            if not synced:
                pgconn.pipeline_sync()
            pgconn.flush()
            while self._take(pgconn.get_result(), pending):
                pass
            pgconn.exit_pipeline_mode()
            pgconn.nonblocking = 1
        except Exception:
            pass  # the connection is unusable; libpq reports it on its next use
