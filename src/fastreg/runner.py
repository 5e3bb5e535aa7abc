"""Where a use case runs: the one way the web routes and the CLI run the services.

``await runner.run(use_case, *args)`` decides, from the use case and the database, where it runs:

- **group commit on SQLite's event loop** for the hot short writes (``GROUPED``: ``account/fastregister``). SQLite
  lets one writer in at a time and such a call is well under a millisecond of CPU (WAL, no fsync at commit), so it
  does not go to a worker thread (which would trade the GIL with the loop at each driver call, costing more than
  the work): the calls that arrived in the same turn of the loop run together on the loop thread, each in its own
  savepoint of one transaction committed once (``adapters.db.uow.run_grouped``); every answer waits for that
  commit. While this process's write lock is taken (a console request, the push worker, the mail sink), each
  call goes to a worker thread on its own.
- **the async engine on PostgreSQL** for the same use cases: each runs on the loop thread with its own
  transaction on one of psycopg's asyncio connections, through SQLAlchemy's ``AsyncConnection.run_sync``: while
  one call waits for the database the loop serves the others, and no thread trades the GIL at every round trip.
  At most ``POSTGRES_CALLS`` run at once (bench/throughput.py: about 400 registrations/s in worker threads,
  about 800/s so).
- **the loop's own reader** for the short reads of committed rows that every request of a kind makes
  (``LOOP_READS``: the sandbox's injected faults), ``use_case(conn, *args)`` on a connection kept open in
  autocommit mode: a unit of work or a worker thread would cost several times the read. On SQLite a read's
  result is kept until another connection commits (``PRAGMA data_version``); its callers must not change it.
- **a worker thread** for everything else: argon2, SMTP, the console's pages, the sandbox API, the CLI.
- **exclusively** for the use cases that must have the database to themselves (``EXCLUSIVE``: the sandbox reset): the
  runner waits for this loop's runs in flight to end and holds new ones back until it has run, in a worker thread.
  On PostgreSQL the wipe must take every table, and a call in flight between two of its statements would hold a
  table the wipe waits for while it waits for a table the wipe has taken; such a deadlock costs the wipe a
  50 ms lock wait and a fresh attempt, and under steady load nearly every attempt met one (resets of 7 to 15 s
  with six clients). What other processes and the push worker hold is left to the wipe's own retries.

A sandbox's ``/cgi-bin`` call runs under ``unless_faults_armed``: the injected faults of its path are read
before its first use case does anything, and on PostgreSQL the hot writes read them in their own first round
trip (``PreparedConnection.ride_along``), which reads only, instead of a round trip of their own.

Nothing else in ``fastreg.web`` or ``fastreg.cli`` calls a service (tests/test_runner.py checks it).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

import anyio.to_thread
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from fastreg.adapters.db.engine import build_loop_engine
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.adapters.db.repositories.worker import faults_read_along, read_faults
from fastreg.adapters.db.uow import run_grouped, run_on_connection
from fastreg.domain.faults import Fault
from fastreg.platform import Platform
from fastreg.services import fastregister, faults, sandbox

P = ParamSpec("P")
T = TypeVar("T")

# The hot short writes: group commit on SQLite, the loop's async engine on PostgreSQL.
GROUPED: frozenset[Callable[..., Any]] = frozenset({fastregister.fastregister_with_token})
# The short reads every request of a kind makes, ``use_case(conn, ...)`` on the loop's own connection.
LOOP_READS: frozenset[Callable[..., Any]] = frozenset({read_faults})
# The use cases that run with no other run of the loop in flight.
EXCLUSIVE: frozenset[Callable[..., Any]] = frozenset({sandbox.reset})


class FaultsArmed(Exception):
    """A fault is armed on the path of the call ``Runner.unless_faults_armed`` ran: the call did nothing."""


class _FaultGate:
    """The faults of a call's path, to be found not armed before the call does anything."""

    __slots__ = ("passed", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.passed = False

    def check(self, found: list[Fault]) -> None:
        if faults.armed(found, self.path):
            raise FaultsArmed(self.path)
        self.passed = True


_fault_gate: ContextVar[_FaultGate | None] = ContextVar("fastreg_fault_gate", default=None)


class Runner:
    """One per event loop (the app's lifespan closes it); ``run`` is its only entry point."""

    MAX_GROUP = 64
    POSTGRES_CALLS = 8
    KEPT_READS = 64

    def __init__(
        self,
        platform: Platform,
        *,
        grouped: Collection[Callable[..., Any]] = GROUPED,
        loop_reads: Collection[Callable[..., Any]] = LOOP_READS,
        exclusive: Collection[Callable[..., Any]] = EXCLUSIVE,
    ) -> None:
        self._platform = platform
        self._grouped = frozenset(grouped)
        self._loop_reads = frozenset(loop_reads)
        self._exclusive = frozenset(exclusive)
        # Runs in flight (the loop's reads aside), and the door an exclusive run closes while it waits and runs.
        self._in_flight = 0
        self._door = asyncio.Event()
        self._door.set()
        self._drained: asyncio.Future[None] | None = None  # an exclusive run waits on it for the runs in flight
        self._one_exclusive = asyncio.Lock()
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._alone_tasks: set[asyncio.Future[None]] = set()
        self._loop_engine: AsyncEngine | None = None
        self._postgres_calls: asyncio.Semaphore | None = None
        # PostgreSQL: the loop's connections kept open between calls (each call: one run_sync, no connect/close).
        self._idle_connections: list[AsyncConnection] = []
        self._reader: PreparedConnection | None = None  # the loop's own autocommit connection for reads
        self._reader_connection: AsyncConnection | None = None  # PostgreSQL: the reader's, on the loop
        self._reader_lock = asyncio.Lock()
        # SQLite: the loop reads' results by call, with the database's data version they were read at.
        self._kept_reads: dict[tuple[Any, ...], tuple[int | None, Any]] = {}

    @overload
    async def run(
        self, use_case: Callable[Concatenate[PreparedConnection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    @overload
    async def run(self, use_case: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def run(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``use_case(*args, **kwargs)`` where it belongs; its result, or the exception it raised."""
        if use_case in self._loop_reads:
            # Not held at the door: a run in flight reads the faults through here (``_pass``), and one statement
            # in autocommit holds no table between statements.
            return await self._read(use_case, *args, **kwargs)
        call = functools.partial(use_case, *args, **kwargs)
        if use_case in self._exclusive:
            return await self._run_exclusive(call)
        while not self._door.is_set():
            await self._door.wait()
        self._in_flight += 1
        try:
            return await self._dispatch(use_case, call)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    async def _dispatch(self, use_case: Callable[..., T], call: Callable[[], T]) -> T:
        gate = _fault_gate.get()
        if gate is not None and not gate.passed:
            if use_case in self._grouped and self._platform.write_lock is None:
                return await self._on_loop_engine(call, gate)
            await self._pass(gate)
        if use_case in self._grouped:
            return await self._write(call)
        return await anyio.to_thread.run_sync(call)

    async def _run_exclusive(self, call: Callable[[], T]) -> T:
        """``call`` in a worker thread once the runs in flight have ended, new ones held back until it returns."""
        async with self._one_exclusive:
            self._door.clear()
            try:
                if self._in_flight:
                    self._drained = asyncio.get_running_loop().create_future()
                    await self._drained
                return await anyio.to_thread.run_sync(call)
            finally:
                self._drained = None
                self._door.set()

    async def unless_faults_armed(self, path: str, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, unless a fault of the sandbox is armed on ``path``: then ``FaultsArmed`` is raised
        and the call has done nothing. The faults are read before the call's first use case runs, or (PostgreSQL,
        the hot writes) with its first round trip, which reads only: a round trip fewer per call."""
        gate = _FaultGate(path)
        token = _fault_gate.set(gate)
        try:
            result = await call()
        except FaultsArmed:
            raise
        except Exception:
            if not gate.passed:  # failed before running anything: the faults still decide the answer
                await self._pass(gate)
            raise
        finally:
            _fault_gate.reset(token)
        if not gate.passed:  # answered without running a use case
            await self._pass(gate)
        return result

    async def _pass(self, gate: _FaultGate) -> None:
        gate.check(await self.injected_faults())

    async def close(self) -> None:
        """Close the loop's own connections, on the loop that opened them."""
        idle, self._idle_connections = self._idle_connections, []
        for connection in idle:
            await connection.close()
        if self._reader_connection is not None:
            await self._reader_connection.close()
        elif self._reader is not None:
            self._reader.connection.close()
        self._reader, self._reader_connection = None, None
        if self._loop_engine is not None:
            await self._loop_engine.dispose()
            self._loop_engine = None

    # ------------------------------------------------------------ the hot writes

    async def _write(self, call: Callable[[], T]) -> T:
        if self._platform.write_lock is None:
            return await self._on_loop_engine(call)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((call, future))
        if not self._scheduled:
            # After the callbacks already queued: the other requests read in this turn join the group.
            self._scheduled = True
            loop.call_soon(self._drain)
        return await future

    def _drain(self) -> None:
        self._scheduled = False
        batch = [(call, future) for call, future in self._queue[: self.MAX_GROUP] if not future.cancelled()]
        del self._queue[: self.MAX_GROUP]
        if self._queue:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)
        if not batch:
            return
        lock = self._platform.write_lock
        assert lock is not None
        if not lock.acquire(blocking=False):
            for call, future in batch:
                task = asyncio.ensure_future(self._alone(call, future))
                self._alone_tasks.add(task)  # the loop keeps only weak references to tasks
                task.add_done_callback(self._alone_tasks.discard)
            return
        try:
            outcomes = run_grouped(self._platform.uow(), [call for call, _ in batch])
        except Exception as error:  # the commit failed: none of the group's work was kept
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        finally:
            lock.release()
        for (_, future), (result, failure) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if failure is None:
                future.set_result(result)
            else:
                future.set_exception(failure)

    @staticmethod
    async def _alone(call: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        try:
            result = await anyio.to_thread.run_sync(call)
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(result)

    def _loop(self) -> tuple[AsyncEngine, asyncio.Semaphore]:
        """The loop's PostgreSQL engine: a connection per call at most ``POSTGRES_CALLS`` at once, and the reader's."""
        if self._loop_engine is None or self._postgres_calls is None:
            # Made in the running loop, whose connections they are.
            self._loop_engine = build_loop_engine(self._platform.engine, pool_size=self.POSTGRES_CALLS + 1)
            self._postgres_calls = asyncio.Semaphore(self.POSTGRES_CALLS)
        return self._loop_engine, self._postgres_calls

    async def _on_loop_engine(self, call: Callable[[], T], gate: _FaultGate | None = None) -> T:
        """``call`` on the loop thread, its units of work on one asyncio connection (``AsyncConnection.run_sync``).
        The connections stay open between calls: opening and closing one per call cost two more greenlet
        switches and a pool checkout (about a third of a millisecond of CPU per registration). ``gate``'s faults
        go with the call's first round trip (when it made none, ``unless_faults_armed`` reads them afterwards)."""
        ride = None if gate is None else faults_read_along(gate.check)
        engine, calls = self._loop()
        async with calls:
            connection = self._idle_connections.pop() if self._idle_connections else await engine.connect()
            try:
                result: T = await connection.run_sync(run_on_connection, call, ride)
            finally:
                if connection.invalidated or connection.in_transaction():
                    await connection.close()  # not clean: never lent again
                else:
                    self._idle_connections.append(connection)
            return result

    async def injected_faults(self) -> list[Fault]:
        """The sandbox's injected faults, read on the loop's own connection (every sandbox request asks)."""
        return await self.run(read_faults)

    # ------------------------------------------------------------ the loop's reads

    async def _read(self, use_case: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """SQLite: right on the loop thread (a WAL reader waits for no writer). PostgreSQL: one read at a time on
        the loop's asyncio connection."""
        if self._platform.write_lock is not None:
            if self._reader is None:
                self._reader = PreparedConnection(self._platform.engine.connect())
            # What the reader read stands until another connection commits (this one only reads): the faults
            # are read again after each group of registrations, not at every request.
            version, key = self._reader.data_version(), (use_case, args, tuple(kwargs.items()))
            kept = self._kept_reads.get(key)
            if kept is not None and kept[0] == version:
                kept_result: T = kept[1]
                return kept_result
            fresh: T = use_case(self._reader, *args, **kwargs)
            if len(self._kept_reads) >= self.KEPT_READS:
                self._kept_reads.clear()  # bounded, whatever arguments a loop read may take
            self._kept_reads[key] = (version, fresh)
            return fresh
        async with self._reader_lock:
            if self._reader_connection is None:
                connection = await self._loop()[0].connect()
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                assert connection.sync_connection is not None
                self._reader_connection = connection
                self._reader = PreparedConnection(connection.sync_connection, announce_to=self._platform.engine)
            reader = self._reader
            assert reader is not None

            def read(_: Connection) -> T:
                return use_case(reader, *args, **kwargs)

            result: T = await self._reader_connection.run_sync(read)
            return result
