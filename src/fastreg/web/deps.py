"""Shared FastAPI dependencies of the web adapters, and how async routes run short write use cases."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from fastreg.adapters.db.uow import run_grouped
from fastreg.platform import Platform

P = ParamSpec("P")
T = TypeVar("T")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


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

    On PostgreSQL, where each statement waits on the network, each call runs in a worker thread, at most
    ``POSTGRES_THREADS`` at a time: a few calls in flight keep the database busy, while forty threads trading
    the GIL at every round trip cost more CPU than they overlap (bench/throughput.py: 322 registrations/s with
    the 40 threads of the default pool, about 400/s with 2 to 4).
    """

    MAX_GROUP = 64
    POSTGRES_THREADS = 4

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._alone_tasks: set[asyncio.Future[None]] = set()
        self._postgres_threads: anyio.CapacityLimiter | None = None

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        call = functools.partial(func, *args, **kwargs)
        if self._platform.write_lock is None:
            if self._postgres_threads is None:  # made in the running loop, as anyio wants
                self._postgres_threads = anyio.CapacityLimiter(self.POSTGRES_THREADS)
            return await anyio.to_thread.run_sync(call, limiter=self._postgres_threads)
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
