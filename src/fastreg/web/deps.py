"""Shared FastAPI dependencies of the web adapters, and how async routes run short write use cases."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import greenlet_spawn
from starlette.concurrency import run_in_threadpool

from fastreg.adapters.db.engine import build_loop_engine
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.adapters.db.uow import run_grouped, run_on_engine, session_factory
from fastreg.platform import Platform

P = ParamSpec("P")
T = TypeVar("T")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def secure_cookies(platform: Platform) -> bool:
    """Cookies get ``Secure`` whenever the public URL is https (always in production behind TLS)."""
    return platform.settings.public_url.lower().startswith("https://")


class WriteGroups:
    """Group commit for the short write use cases of async routes (``account/fastregister``) on SQLite.

    SQLite lets one writer in at a time, and a registration there is well under a millisecond of CPU (WAL, no
    fsync at commit). So a call does not go to a worker thread (which would trade the GIL with the event loop
    at each of its driver calls, costing more than the work): it waits in a queue, and the calls that arrived
    in the same turn of the event loop run together, right on the loop thread, each in its own savepoint of
    one transaction committed once (``adapters.db.uow.run_grouped``). Every answer waits for that commit.

    While this process's write lock is taken (a console request, the push worker, the mail sink is writing),
    each call goes to the threadpool on its own, as any other route's. Another process writing to the same
    SQLite file (the CLI, a second worker) can still hold the loop for the length of its transaction.

    On PostgreSQL, where each statement waits on the network, each call runs on the loop thread too, in a
    greenlet of its own (SQLAlchemy's ``greenlet_spawn``) with its own transaction, on psycopg's asyncio
    connections (``build_loop_engine``): while one call waits for the database the loop serves the others, and
    no thread trades the GIL at every round trip. At most ``POSTGRES_CALLS`` run at once, one connection each
    (bench/throughput.py: about 400 registrations/s in worker threads, about 800/s so).
    """

    MAX_GROUP = 64
    POSTGRES_CALLS = 8

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._alone_tasks: set[asyncio.Future[None]] = set()
        self._loop_engine: AsyncEngine | None = None
        self._loop_sessions: sessionmaker[Session] | None = None
        self._postgres_calls: asyncio.Semaphore | None = None
        self._reader: PreparedConnection | None = None  # the loop's own autocommit connection for reads
        self._reader_connection: AsyncConnection | None = None  # PostgreSQL: the reader's, on the loop
        self._reader_lock = asyncio.Lock()

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(func, *args, **kwargs)
        if self._platform.write_lock is None:
            return await self._run_on_loop(call)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((call, future))
        if not self._scheduled:
            # After the callbacks already queued: the other requests read in this turn join the group.
            self._scheduled = True
            loop.call_soon(self._drain)
        return await future

    async def read(self, func: Callable[Concatenate[PreparedConnection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A short read of committed rows by prepared statements, ``func(conn, ...)``, that every request of a kind
        makes (the sandbox's injected faults), on a connection of the loop's own kept open in autocommit mode, so
        that each statement sees the latest commit: a unit of work (BEGIN, ROLLBACK, a pooled connection) or a
        worker thread would cost several times the read. SQLite: right on the loop thread (a WAL reader waits for
        no writer). PostgreSQL: in a greenlet, one read at a time on the loop's asyncio connection."""
        if self._platform.write_lock is not None:
            if self._reader is None:
                self._reader = PreparedConnection(self._platform.engine.connect())
            return func(self._reader, *args, **kwargs)
        if self._reader is None:
            connection = await self._loop().connect()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            assert connection.sync_connection is not None
            self._reader, self._reader_connection = PreparedConnection(connection.sync_connection), connection
        async with self._reader_lock:
            result: T = await greenlet_spawn(functools.partial(func, self._reader, *args, **kwargs))
            return result

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

    def _loop(self) -> AsyncEngine:
        """The loop's PostgreSQL engine: a connection per call at most ``POSTGRES_CALLS`` at once, and the reader's."""
        if self._loop_engine is None or self._loop_sessions is None or self._postgres_calls is None:
            # Made in the running loop, whose connections they are.
            self._loop_engine = build_loop_engine(self._platform.engine, pool_size=self.POSTGRES_CALLS + 1)
            self._loop_sessions = session_factory(self._loop_engine.sync_engine)
            self._postgres_calls = asyncio.Semaphore(self.POSTGRES_CALLS)
        return self._loop_engine

    async def _run_on_loop(self, call: Callable[[], T]) -> T:
        engine = self._loop().sync_engine
        sessions, calls = self._loop_sessions, self._postgres_calls
        assert sessions is not None and calls is not None
        async with calls:
            result: T = await greenlet_spawn(run_on_engine, engine, sessions, call)
            return result

    async def close(self) -> None:
        """Close the loop's own connections, on the loop that opened them."""
        if self._reader_connection is not None:
            await self._reader_connection.close()
        elif self._reader is not None:
            self._reader.connection.close()
        self._reader, self._reader_connection = None, None
        if self._loop_engine is not None:
            await self._loop_engine.dispose()
            self._loop_engine = None

    @staticmethod
    async def _alone(call: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        try:
            result = await run_in_threadpool(call)
        except Exception as error:
            if not future.done():
                future.set_exception(error)
        else:
            if not future.done():
                future.set_result(result)


def write_groups(request: Request) -> WriteGroups:
    groups: WriteGroups = request.app.state.write_groups
    return groups
