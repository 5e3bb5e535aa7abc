"""PostgreSQL: what a round trip of the hot path's prepared statements costs this process, and what a statement
added to one costs, on the event loop (the runner's asyncio connections under uvloop, as uvicorn runs fastreg)
and blocking (a worker thread's connection).

Batches of 1, 5, 10 and 20 ``SELECT $1`` through ``PreparedConnection.batch()``, sequentially on one connection;
prints the process CPU (user and system) and the wall time per batch. A registration makes three round trips
and a dozen statements, and in the sandbox the faults read is a fourth round trip: these figures say which of
the two to cut.

    .venv/bin/python scripts/with_postgres.py sh -c 'FASTREG_BENCH_POSTGRES_URL=$FASTREG_TEST_POSTGRES_URL \
      .venv/bin/python bench/roundtrip.py'
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import uvloop
from sqlalchemy import Connection, Integer, bindparam, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import database, machine
from fastreg.adapters.db.engine import build_engine, build_loop_engine
from fastreg.adapters.db.prepared import PreparedConnection

ECHO = select(bindparam("value", type_=Integer))
SIZES = (1, 5, 10, 20)


def cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def batches(connection: Connection, count: int, size: int) -> None:
    conn = PreparedConnection(connection)
    for _ in range(count):
        with conn.batch():
            answers = [conn.execute(ECHO, {"value": n}) for n in range(size)]
        assert answers[-1].scalar_one() == size - 1


def report(where: str, size: int, count: int, started: tuple[float, float, float]) -> None:
    user, system = cpu()
    wall = time.perf_counter() - started[2]
    print(
        f"{where:>8}, {size:2d} statements per round trip: {(user - started[0]) / count * 1e6:6.1f} µs user + "
        f"{(system - started[1]) / count * 1e6:6.1f} µs system CPU, {wall / count * 1e6:6.1f} µs wall",
        flush=True,
    )


def measure_blocking(url: str, count: int) -> None:
    engine = build_engine(url)
    with engine.connect() as connection:
        batches(connection, count // 10, 1)  # statements prepared, caches warm
        for size in SIZES:
            started = (*cpu(), time.perf_counter())
            batches(connection, count, size)
            report("blocking", size, count, started)
            connection.rollback()
    engine.dispose()


async def measure_on_loop(url: str, count: int) -> None:
    engine = build_engine(url)
    loop_engine = build_loop_engine(engine, pool_size=1)
    async with loop_engine.connect() as connection:
        await connection.run_sync(batches, count // 10, 1)
        for size in SIZES:
            started = (*cpu(), time.perf_counter())
            await connection.run_sync(batches, count, size)
            report("loop", size, count, started)
            await connection.rollback()
    await loop_engine.dispose()
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000, help="round trips per measurement")
    args = parser.parse_args()
    print(machine())
    with database("postgres") as url:
        uvloop.run(measure_on_loop(url, args.count))
        measure_blocking(url, args.count)


if __name__ == "__main__":
    main()
