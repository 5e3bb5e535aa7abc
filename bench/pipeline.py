"""The hand-made libpq pipeline (``adapters/db/pgpipeline.py``) against psycopg's own pipeline mode with
prepared statements, on ``account/fastregister`` (PostgreSQL only).

Both run the same use case in one process through the runner (the loop's asyncio connections, as the server
runs it): the same statements, batched at the same points (one round trip per ``PreparedConnection.batch``),
each prepared once per connection. The only difference is how a batch reaches the server:

- ``hand-made``: ``PostgresBatch``, statements queued on the connection's libpq object with values dumped by
  psycopg's C transformer, one wait per batch on the loop;
- ``psycopg``: ``async with conn.pipeline()`` and ``await cursor.execute(sql, values, prepare=True)`` per
  statement (psycopg's public API), the rows read with ``cursor.fetchall()`` after the pipeline's sync.

The two alternate in blocks (``--block`` calls each) so that drift of the shared machine falls on both; the
script prints the CPU time of the process per registration for each, their ratio, and the rule of
``architecture.md``: the hand-made layer stays only if it wins by more than 10 %.

    .venv/bin/python scripts/with_postgres.py sh -c \\
      'FASTREG_BENCH_POSTGRES_URL=$FASTREG_TEST_POSTGRES_URL .venv/bin/python bench/pipeline.py'
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from psycopg.adapt import PyFormat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import bench_platform, database, issue_tickets_in_batches, machine, make_fixture, migrate

QUOTA = 5
_NUMBERED = re.compile(rb"\$(\d+)")


class PsycopgPipelineBatch:
    """The interface of ``pgpipeline.PostgresBatch`` (queue, queue_command, send) on psycopg's public pipeline:
    what is queued is executed inside ``conn.pipeline()`` when the batch is sent (one round trip: psycopg sends
    the statements and syncs at the block's end), each statement prepared on the server (``prepare=True``)."""

    _converted: ClassVar[dict[tuple[bytes, tuple[Any, ...]], tuple[bytes, list[int]]]] = {}

    def __init__(self, connection: Any, wait: Any) -> None:
        self._connection = connection  # psycopg.AsyncConnection; the caller runs in a greenlet on the loop
        self._queued: list[tuple[bytes, Sequence[Any] | None, Any, bool]] = []

    @classmethod
    def _psycopg_sql(cls, sql: bytes, formats: Sequence[Any]) -> tuple[bytes, list[int]]:
        """``$n`` placeholders (the wire SQL) as psycopg's ``%s`` (``%b`` where the value goes in binary, as the
        hand-made layer sends it), with the value index of each occurrence."""
        key = (sql, tuple(formats))
        found = cls._converted.get(key)
        if found is None:
            order = [int(match.group(1)) - 1 for match in _NUMBERED.finditer(sql)]

            def placeholder(match: re.Match[bytes]) -> bytes:
                return b"%b" if formats[int(match.group(1)) - 1] == PyFormat.BINARY else b"%s"

            found = cls._converted[key] = (_NUMBERED.sub(placeholder, sql.replace(b"%", b"%%")), order)
        return found

    def discard(self) -> None:
        self._queued = []

    def queue_command(self, sql: bytes) -> None:
        from fastreg.adapters.db.pgpipeline import Answer

        self._queued.append((sql, None, Answer(), False))

    def queue(self, sql: bytes, values: Sequence[Any], formats: Sequence[Any], answer: Any) -> None:
        converted, order = self._psycopg_sql(sql, formats)
        self._queued.append((converted, [values[index] for index in order], answer, True))

    def send(self) -> None:
        from sqlalchemy.util import await_only

        if not self._queued:
            return
        queued, self._queued = self._queued, []
        await_only(self._send(queued))

    async def _send(self, queued: list[tuple[bytes, Sequence[Any] | None, Any, bool]]) -> None:
        connection = self._connection
        cursors = []
        async with connection.pipeline():
            for sql, values, answer, prepare in queued:
                cursor = connection.cursor()
                await cursor.execute(sql, values, prepare=prepare or None)
                cursors.append((cursor, answer))
        for cursor, answer in cursors:
            answer.rowcount = max(cursor.rowcount, 0)
            answer.rows = await cursor.fetchall() if cursor.description is not None else []


async def run_block(platform: Any, runner: Any, calls: list[tuple[str, str]], concurrency: int) -> float:
    """Run ``calls`` (token, ticket) ``concurrency`` at a time; the process's CPU seconds spent."""
    from fastreg.services.fastregister import fastregister_with_token

    pending = iter(calls)

    async def client() -> None:
        for token, ticket in pending:
            result = await runner.run(fastregister_with_token, platform, token, ticket)
            assert result.appid, result

    started = time.process_time()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.process_time() - started


async def compare(platform: Any, calls: list[tuple[str, str]], block: int, concurrency: int) -> dict[str, list[float]]:
    from fastreg.adapters.db import prepared
    from fastreg.runner import Runner

    hand_made = prepared.PostgresBatch
    batches = {"hand-made": hand_made, "psycopg": PsycopgPipelineBatch}
    per_call: dict[str, list[float]] = {name: [] for name in batches}
    runners = {name: Runner(platform) for name in batches}  # connections of their own (prepared per connection)
    try:
        for name, batch in batches.items():  # warm-up: statements prepared on every connection
            prepared.PostgresBatch = batch
            await run_block(platform, runners[name], [calls.pop() for _ in range(concurrency * 4)], concurrency)
        rounds = len(calls) // (2 * block)
        for round_ in range(rounds):
            order = list(batches) if round_ % 2 == 0 else list(reversed(batches))
            for name in order:
                prepared.PostgresBatch = batches[name]
                chunk = [calls.pop() for _ in range(block)]
                per_call[name].append(await run_block(platform, runners[name], chunk, concurrency) / block)
    finally:
        prepared.PostgresBatch = hand_made
        for runner in runners.values():
            await runner.close()
    return per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2400, help="registrations in all (both ways)")
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight (the runner's POSTGRES_CALLS)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with database("postgres") as url:
        migrate(url)
        platform = bench_platform(url, tempfile.mkdtemp(prefix="fastreg-pipeline-"))
        total = args.calls + 2 * 4 * args.concurrency
        fixture = make_fixture(platform, -(-total // QUOTA))
        oas = fixture.dealt(total, QUOTA)
        tickets = issue_tickets_in_batches(platform, fixture, oas)
        calls = [(oa.token, ticket) for oa, ticket in zip(oas, tickets, strict=True)]
        calls.reverse()  # popped from the end
        per_call = asyncio.run(compare(platform, calls, args.block, args.concurrency))
        platform.engine.dispose()
    for name, values in per_call.items():
        print(
            f"{name}: CPU per registration median {statistics.median(values) * 1000:.2f} ms "
            f"(blocks of {args.block}: {', '.join(f'{value * 1000:.2f}' for value in values)})"
        )
    hand_made, psycopg_ = (statistics.median(per_call[name]) for name in ("hand-made", "psycopg"))
    gain = psycopg_ / hand_made - 1
    print(f"psycopg's pipeline costs {gain * 100:+.0f} % CPU per registration against the hand-made layer")
    print("keep the hand-made layer" if gain > 0.10 else "the hand-made layer does not win by more than 10 %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
