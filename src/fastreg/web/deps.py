"""Shared FastAPI dependencies of the web adapters."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from fastreg.platform import Platform

P = ParamSpec("P")
T = TypeVar("T")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def run_unit_of_work(platform: Platform, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a short use case that writes, from an async route.

    On SQLite, when this process's write lock is free, the use case runs right here on the event loop thread:
    SQLite lets one writer in at a time anyway, and a registration there is well under a millisecond of CPU
    (WAL, no fsync at commit), while handing it to a worker thread makes that thread and the event loop trade
    the GIL at each of its dozen driver calls, which cost more than the work itself (466 against 668
    registrations/s in bench/throughput.py). When the lock is taken (a console request, the push worker, the
    mail sink is writing), or on PostgreSQL, where each statement waits on the network, it goes to the
    threadpool as usual. Another process writing to the same SQLite file (the CLI, a second worker) can still
    hold the loop for the length of its transaction."""
    lock = platform.write_lock
    if lock is not None and lock.acquire(blocking=False):
        try:
            return func(*args, **kwargs)
        finally:
            lock.release()
    return await run_in_threadpool(func, *args, **kwargs)
