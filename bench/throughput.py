"""Throughput of fastreg's ``POST /cgi-bin/account/fastregister`` against the physical limit of the stack.

For SQLite, then PostgreSQL, in the same run and on the same machine:
  (a) the bare reference app (``bench/reference_app.py``: FastAPI, uvicorn one worker, one single-row insert and
      commit per request on the same database),
  (b) fastreg (uvicorn one worker) answering ``account/fastregister`` with tickets issued beforehand through the
      services layer, for many OAs so the monthly quota is never the limit;
and prints ``ratio`` = (b)/(a) (target >= 0.6). For information: bare ``GET /healthz`` of both apps and complete
registrations per second (the admin's confirmation through the sandbox API, then fastregister with its ticket).

    .venv/bin/python bench/throughput.py                 # both databases, wrk when installed
    .venv/bin/python bench/throughput.py --db sqlite --duration 5 --tool asyncio
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    SANDBOX_KEY,
    Call,
    LoadResult,
    bench_platform,
    database,
    default_tool,
    fastreg_env,
    free_port,
    issue_ticket,
    load,
    machine,
    make_fixture,
    migrate,
    open_page,
    start_fastreg,
    start_server,
)

QUOTA = 5


def repeated(call: Call, count: int) -> list[Call]:
    return [call] * count


def measure_reference(url: str, tool: str, connections: int, duration: float) -> tuple[LoadResult, LoadResult]:
    port = free_port()
    server = start_server("bench.reference_app:create_app", fastreg_env(url, tempfile.mkdtemp(), port), port)
    try:
        load(
            server.base_url, repeated(Call("GET", "/healthz"), 200_000), tool=tool, connections=connections, duration=1
        )
        health = load(
            server.base_url,
            repeated(Call("GET", "/healthz"), 400_000),
            tool=tool,
            connections=connections,
            duration=duration,
        )
        inserts = load(
            server.base_url,
            repeated(Call("POST", "/insert"), 200_000),
            tool=tool,
            connections=connections,
            duration=duration,
        )
    finally:
        server.stop()
    return health, inserts


def issue_tickets(platform: object, fixture: object, count: int, workers: int) -> list[Call]:
    """``count`` tickets, QUOTA per OA, issued through the services (auth page confirmation answered by the
    OA admin); returns the fastregister calls that spend them."""
    oas = fixture.oas  # type: ignore[attr-defined]
    assignments = [oas[i // QUOTA] for i in range(count)]

    def one(oa: object) -> Call:
        ticket = issue_ticket(platform, fixture, oa)  # type: ignore[arg-type]
        body = json.dumps({"ticket": ticket}).encode()
        return Call("POST", f"/cgi-bin/account/fastregister?access_token={oa.token}", body)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, assignments))


async def complete_registrations(
    base_url: str, pages: list[tuple[str, str, str]], connections: int
) -> tuple[int, float]:
    """Each registration: the OA admin confirms the auth page (sandbox API), then the component calls
    fastregister with the ticket from the redirect. Returns (registered, seconds)."""
    from bench._common import _read_response, _request_bytes

    parsed = urlparse(base_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    host_header = f"{host}:{port}"
    queue = list(reversed(pages))
    done = 0

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while queue:
                confirmation_id, wxid, token = queue.pop()
                answer = Call(
                    "POST",
                    f"/sandbox/v1/confirmations/{confirmation_id}",
                    json.dumps({"wxid": wxid, "action": "confirm"}).encode(),
                    (("X-Sandbox-Key", SANDBOX_KEY), ("Content-Type", "application/json")),
                )
                writer.write(_request_bytes(answer, host_header))
                status, body = await _read_response(reader)
                if status != 200:
                    continue
                ticket = parse_qs(urlparse(json.loads(body)["redirect_url"]).query)["ticket"][0]
                call = Call(
                    "POST",
                    f"/cgi-bin/account/fastregister?access_token={token}",
                    json.dumps({"ticket": ticket}).encode(),
                )
                writer.write(_request_bytes(call, host_header))
                status, body = await _read_response(reader)
                if status == 200 and json.loads(body).get("errcode") == 0:
                    done += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done, time.perf_counter() - started


def run_database(kind: str, tool: str, connections: int, duration: float, complete_count: int) -> dict[str, float]:
    with database(kind) as url:
        migrate(url)
        health_ref, inserts = measure_reference(url, tool, connections, duration)
        print(
            f"[{kind}] reference app: GET /healthz {health_ref.rate:,.0f}/s, one-insert POST {inserts.ok_rate:,.0f}/s"
        )
        # Enough tickets for fastreg to run at up to 1.3x the reference insert rate for the whole run.
        needed = int(inserts.ok_rate * (duration + 1) * 1.3) + 500
        data_dir = tempfile.mkdtemp(prefix="fastreg-bench-data-")
        platform = bench_platform(url, data_dir)
        oas_needed = -(-(needed + complete_count) // QUOTA)
        started = time.perf_counter()
        fixture = make_fixture(platform, oas_needed)
        calls = issue_tickets(platform, fixture, needed, 1 if kind == "sqlite" else 8)
        extra_oas = fixture.oas[-(-needed // QUOTA) :]
        pages = [(open_page(platform, fixture, oa), oa.admin_wxid, oa.token) for oa in extra_oas for _ in range(QUOTA)][
            :complete_count
        ]
        platform.engine.dispose()
        print(
            f"[{kind}] prepared {len(fixture.oas)} OAs, {len(calls)} tickets in {time.perf_counter() - started:.0f} s"
        )

        server = start_fastreg(url, data_dir)
        try:
            warm = load(
                server.base_url,
                repeated(Call("GET", "/healthz"), 200_000),
                tool=tool,
                connections=connections,
                duration=1,
            )
            del warm
            health = load(
                server.base_url,
                repeated(Call("GET", "/healthz"), 400_000),
                tool=tool,
                connections=connections,
                duration=duration,
            )
            registered = load(server.base_url, calls, tool=tool, connections=connections, duration=duration)
            failed = registered.requests - registered.ok
            if failed:
                print(f"[{kind}] WARNING: {failed} fastregister calls did not answer errcode 0")
            done, seconds = asyncio.run(complete_registrations(server.base_url, pages, connections))
        finally:
            server.stop()
        ratio = registered.ok_rate / inserts.ok_rate if inserts.ok_rate else 0.0
        figures = {
            "reference_healthz": health_ref.rate,
            "reference_insert": inserts.ok_rate,
            "fastreg_healthz": health.rate,
            "fastregister": registered.ok_rate,
            "ratio": ratio,
            "complete_registrations": done / seconds if seconds else 0.0,
            "complete_count": done,
        }
        print(
            f"[{kind}] fastreg: GET /healthz {health.rate:,.0f}/s, fastregister {registered.ok_rate:,.0f}/s "
            f"({registered.ok} registered), complete registrations {figures['complete_registrations']:,.0f}/s "
            f"({done} of {len(pages)})"
        )
        print(f"[{kind}] ratio = {ratio:.2f} (target >= 0.6)")
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tool", choices=["wrk", "asyncio"], default=default_tool())
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured load")
    parser.add_argument("--complete", type=int, default=500, help="complete registrations to time")
    args = parser.parse_args()
    print(f"machine: {machine()}; load generator: {args.tool}, {args.connections} connections, {args.duration:g} s")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = {kind: run_database(kind, args.tool, args.connections, args.duration, args.complete) for kind in kinds}
    print()
    print(
        f"{'database':<10} {'ref /healthz':>13} {'ref insert':>11} {'fastreg /healthz':>17} {'fastregister':>13} "
        f"{'ratio':>6} {'complete reg':>13}"
    )
    for kind, f in results.items():
        print(
            f"{kind:<10} {f['reference_healthz']:>11,.0f}/s {f['reference_insert']:>9,.0f}/s "
            f"{f['fastreg_healthz']:>15,.0f}/s {f['fastregister']:>11,.0f}/s {f['ratio']:>6.2f} "
            f"{f['complete_registrations']:>11,.0f}/s"
        )
    return 0 if all(f["ratio"] >= 0.6 for f in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
