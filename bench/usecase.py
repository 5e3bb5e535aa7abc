"""CPU per ``account/fastregister`` use case, without HTTP: this checkout against another checkout's ``src``, in
paired blocks (``--compare SRC``).

Two worker processes, one per code tree, each with its own database and tickets issued beforehand, run the use
case as the server's runner does: on SQLite in groups (``--group`` calls in one transaction, each in its own
savepoint, as the runner groups the calls that arrive together), on PostgreSQL through the ``Runner`` on an
event loop (``--concurrency`` calls in flight on its asyncio connections). The parent asks them for blocks of
``--block`` calls in turn, alternating which goes first, and prints the process CPU per call of each block and
the median of the per-block ratios: a slow minute of the shared machine falls on both sides of a pair.

``--asgi`` runs the whole app instead of the use case alone: each call goes through ``create_app()``'s ASGI
stack (middleware, routing, body parsing, the runner, the access log line) from an in-process caller, without
uvicorn or sockets (``--concurrency`` calls in flight, default 32 as ``throughput.py``'s wrk): the HTTP layer's
share of a registration, A/B-measured without the load generator on the same CPUs.

    .venv/bin/python bench/usecase.py --compare /tmp/other/src
    .venv/bin/python bench/usecase.py --asgi --compare /tmp/other/src
    .venv/bin/python scripts/with_postgres.py sh -c 'FASTREG_BENCH_POSTGRES_URL=$FASTREG_TEST_POSTGRES_URL \\
      .venv/bin/python bench/usecase.py --db postgres --compare /tmp/other/src'
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import uvloop

from bench._common import (
    bench_platform,
    database,
    fastreg_env,
    issue_tickets_in_batches,
    machine,
    make_fixture,
    migrate,
    register_history,
    settle_database,
)

QUOTA = 5
THIS_TREE = "this checkout"


def serve_blocks(db: str, count: int, group: int, concurrency: int, *, asgi: bool = False) -> None:
    """The worker: prepare ``count`` tickets, say ``ready``, then for each number read from stdin run that many
    calls and print their CPU per call in µs."""
    from fastreg.services.fastregister import fastregister_with_token

    with database(db) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-bench-usecase-")
        platform = bench_platform(url, data_dir)
        fixture = make_fixture(platform, -(-count // QUOTA))
        oas = fixture.dealt(count, QUOTA)
        tickets = issue_tickets_in_batches(platform, fixture, oas)
        calls = [(oa.token, ticket) for oa, ticket in zip(oas, tickets, strict=True)]
        register_history(platform)
        settle_database(url)
        if asgi:
            platform.engine.dispose()
            uvloop.run(_serve_app(url, data_dir, calls, concurrency))
            return
        gc.collect()
        gc.freeze()  # as the server's lifespan does
        if db == "sqlite":
            _serve_grouped(platform, calls, group, fastregister_with_token)
        else:
            asyncio.run(_serve_on_loop(platform, calls, concurrency, fastregister_with_token))


def _serve_grouped(platform: Any, calls: list[tuple[str, str]], group: int, use_case: Any) -> None:
    from fastreg.adapters.db.uow import run_grouped

    print("ready", flush=True)
    position = 0
    for line in sys.stdin:
        block = calls[position : position + int(line)]
        position += len(block)
        started = time.process_time()
        for first in range(0, len(block), group):
            batch = [functools.partial(use_case, platform, *call) for call in block[first : first + group]]
            for _, failure in run_grouped(platform.uow(), batch):
                if failure is not None:
                    raise failure
        print(f"{(time.process_time() - started) / len(block) * 1e6:.1f}", flush=True)


async def _serve_on_loop(platform: Any, calls: list[tuple[str, str]], concurrency: int, use_case: Any) -> None:
    from fastreg.runner import Runner

    runner = Runner(platform)

    async def caller(pending: list[tuple[str, str]]) -> None:
        while pending:
            await runner.run(use_case, platform, *pending.pop())

    try:
        await _serve_concurrent_blocks(calls, concurrency, caller)
    finally:
        await runner.close()


async def _serve_concurrent_blocks(
    calls: list[tuple[str, str]], concurrency: int, caller: Callable[[list[tuple[str, str]]], Awaitable[None]]
) -> None:
    """Say ``ready``, then for each number read from stdin spend that many of ``calls`` with ``concurrency``
    ``caller``s taking from one list, and print their CPU per call in µs."""
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    position = 0
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        block = calls[position : position + int(line)]
        position += len(block)
        pending = list(block)
        started = time.process_time()
        await asyncio.gather(*(caller(pending) for _ in range(concurrency)))
        print(f"{(time.process_time() - started) / len(block) * 1e6:.1f}", flush=True)


async def _serve_app(url: str, data_dir: str, calls: list[tuple[str, str]], concurrency: int) -> None:
    """``--asgi``: the calls through the app made as the server makes it (its lifespan, its access log at INFO
    on stderr, which the parent sends to /dev/null)."""
    os.environ.update(fastreg_env(url, data_dir, 0, FASTREG_LOG_LEVEL="INFO"))
    from fastreg.web.app import create_app

    app = create_app()
    async with app.router.lifespan_context(app):
        await _serve_concurrent_blocks(calls, concurrency, functools.partial(_app_caller, app))


async def _app_caller(app: Any, pending: list[tuple[str, str]]) -> None:
    while pending:
        token, ticket = pending.pop()
        body = json.dumps({"ticket": ticket}).encode()
        answer = await _asgi_post(app, "/cgi-bin/account/fastregister", f"access_token={token}".encode(), body)
        if json.loads(answer).get("errcode") != 0:
            raise SystemExit(f"fastregister failed: {answer!r}")


async def _asgi_post(app: Any, path: str, query: bytes, body: bytes) -> bytes:
    """One POST through the ASGI app, as uvicorn would hand it over; the answer's body. By hand rather than
    through ``httpx.ASGITransport``: the caller runs in the measured process, and httpx's client would add its
    own request building and parsing to every call's CPU."""
    chunks: list[bytes] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # past the body: wait for a disconnection that never comes
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)
    return b"".join(chunks)


def compare(args: argparse.Namespace) -> int:
    count = (args.blocks + 1) * args.block
    concurrency = args.concurrency or (32 if args.asgi else 8)
    trees = {THIS_TREE: None, args.compare: str(Path(args.compare).resolve())}
    workers: dict[str, subprocess.Popen[str]] = {}
    for tree, path in trees.items():
        env = dict(os.environ) if path is None else {**os.environ, "PYTHONPATH": path}
        command = [sys.executable, __file__, "--serve", "--db", args.db, "--count", str(count)]
        command += ["--group", str(args.group), "--concurrency", str(concurrency)]
        if args.asgi:
            command.append("--asgi")
        workers[tree] = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if args.asgi else None,  # the access log
            text=True,
            env=env,
        )
    for tree, worker in workers.items():
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "ready":
            raise SystemExit(f"the worker of {tree} did not start")
    figures: dict[str, list[float]] = {tree: [] for tree in trees}
    for block in range(args.blocks + 1):
        order = list(trees) if block % 2 else list(reversed(trees))
        for tree in order:
            worker = workers[tree]
            assert worker.stdin is not None and worker.stdout is not None
            worker.stdin.write(f"{args.block}\n")
            worker.stdin.flush()
            cpu = float(worker.stdout.readline())
            if block:  # the first block warms both up
                figures[tree].append(cpu)
    for worker in workers.values():
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    ratios = [this / other for this, other in zip(figures[THIS_TREE], figures[args.compare], strict=True)]
    what = "through the ASGI app" if args.asgi else "the use case"
    print(f"machine: {machine()}; {args.db}, {what}, {args.blocks} pairs of blocks of {args.block} calls")
    for tree, values in figures.items():
        print(
            f"  {tree}: median {statistics.median(values):,.0f} µs CPU per call (blocks: "
            + ", ".join(f"{value:,.0f}" for value in values)
            + ")"
        )
    print(
        f"  this / other, median of the pairs: {statistics.median(ratios):.3f} "
        f"(min {min(ratios):.3f}, max {max(ratios):.3f})"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--compare", metavar="SRC", help="the src/ of another checkout (same schema)")
    parser.add_argument("--blocks", type=int, default=14, help="pairs of blocks measured")
    parser.add_argument("--block", type=int, default=200, help="calls per block")
    parser.add_argument("--group", type=int, default=11, help="SQLite: calls per transaction (the runner's groups)")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="calls in flight (PostgreSQL: default 8; --asgi: default 32)"
    )
    parser.add_argument("--asgi", action="store_true", help="each call through the whole app, in process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_blocks(args.db, args.count, args.group, args.concurrency, asgi=args.asgi)
        return 0
    if not args.compare:
        parser.error("--compare SRC is required")
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
