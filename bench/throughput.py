"""Throughput of fastreg's ``POST /cgi-bin/account/fastregister`` against the physical limit of the stack.

For SQLite, then PostgreSQL, in the same run and on the same machine:
  (a) the bare reference app (``bench/reference_app.py``: FastAPI, uvicorn one worker, one single-row insert and
      commit per request on the same database),
  (b) fastreg (uvicorn one worker) answering ``account/fastregister`` with tickets issued beforehand through the
      services layer, for many OAs so the monthly quota is never the limit;
in two cases: the component without a callback URL, and with one (a local receiver; account/fastregister
queues no push, and the receiver's count shows it); and prints ``ratio`` = (b)/(a) for each (targets: 0.8 on
SQLite, 0.6 on PostgreSQL). For information: bare ``GET /healthz`` of both apps and complete registrations per
second (the admin's confirmation through the sandbox API, then fastregister with its ticket). ``--compare SRC``
also measures another checkout's code on the same database, right after this one's (an A/B under the same load).
``--paired N`` measures the reference and fastreg in turns instead, both servers running, and prints the median
of the N pairs' ratios (the shared machine's drift between the two measurements falls out); with ``--compare SRC``
the other tree's server takes its turns as well (an A/B in turns). Before any server starts, 2,000 registrations of
other OAs are made through the services and the database is settled (``register_history``, ``settle_database``):
the loads measure a platform that has run, not the plans PostgreSQL makes for empty tables.

    .venv/bin/python bench/throughput.py                 # both databases, wrk when installed
    .venv/bin/python bench/throughput.py --db sqlite --duration 5 --tool asyncio
    .venv/bin/python bench/throughput.py --db postgres --compare ../other-checkout/src
    .venv/bin/python bench/throughput.py --db postgres --paired 7 --duration 3
    .venv/bin/python bench/throughput.py --db sqlite --paired 8 --duration 4 --compare ../other-checkout/src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    SANDBOX_KEY,
    Call,
    Fixture,
    LoadResult,
    Server,
    bench_platform,
    database,
    default_tool,
    fastreg_env,
    free_port,
    issue_tickets_in_batches,
    load,
    machine,
    make_fixture,
    migrate,
    open_page,
    register_history,
    settle_database,
    start_fastreg,
    start_server,
)
from fastreg.testing import CallbackServer

QUOTA = 5


def repeated(call: Call, count: int) -> list[Call]:
    return [call] * count


def timed_load(server: Server, calls: list[Call], **load_args: Any) -> tuple[LoadResult, float]:
    """A load of ``calls`` on ``server``, and the server's CPU seconds per request answered OK meanwhile."""
    before = cpu_seconds(server.process.pid)
    result = load(server.base_url, calls, **load_args)
    return result, (cpu_seconds(server.process.pid) - before) / max(result.ok, 1)


def start_reference(url: str) -> Server:
    """The bare reference app (``bench/reference_app.py``) on the same database as fastreg."""
    port = free_port()
    return start_server("bench.reference_app:create_app", fastreg_env(url, tempfile.mkdtemp(), port), port)


def measure_reference(url: str, tool: str, connections: int, duration: float) -> tuple[LoadResult, LoadResult, float]:
    """The reference app's bare /healthz, its one-insert POST, and its server CPU seconds per insert."""
    server = start_reference(url)
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
        inserts, cpu_each = timed_load(
            server, repeated(Call("POST", "/insert"), 200_000), tool=tool, connections=connections, duration=duration
        )
    finally:
        server.stop()
    return health, inserts, cpu_each


# ``--calls-by-oa``: each OA's calls one after the other (they then arrive together and wait on each other).
calls_by_oa = False


def issue_tickets(platform: Any, fixture: Fixture, count: int) -> list[Call]:
    """``count`` tickets, QUOTA per OA, dealt out one OA after another; returns the fastregister calls that spend
    them."""
    oas = [fixture.oas[i // QUOTA] for i in range(count)] if calls_by_oa else fixture.dealt(count, QUOTA)
    tickets = issue_tickets_in_batches(platform, fixture, oas)
    return [
        Call("POST", f"/cgi-bin/account/fastregister?access_token={oa.token}", json.dumps({"ticket": ticket}).encode())
        for oa, ticket in zip(oas, tickets, strict=True)
    ]


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


# The cases measured: the component without a callback URL, and with one (as every real component has; the
# URL is a local receiver counting what it gets, which for account/fastregister is nothing: fidelity.md 2.14).
CASES = ("no callback", "callback URL")
# The ratio each case must reach, by database.
TARGETS = {"sqlite": 0.8, "postgres": 0.6}


@dataclass
class Prepared:
    """Everything the measured loads spend: fastregister calls per case (and per code tree), pages to confirm."""

    calls: dict[tuple[str, str], list[Call]]
    pages: list[tuple[str, str, str]]


def prepare(url: str, needed: int, trees: list[str], complete_count: int, callback_url: str) -> Prepared:
    data_dir = tempfile.mkdtemp(prefix="fastreg-bench-data-")
    platform = bench_platform(url, data_dir)
    calls: dict[tuple[str, str], list[Call]] = {}
    pages: list[tuple[str, str, str]] = []
    for case in CASES:
        count = needed * len(trees)
        extra = complete_count if case == CASES[0] else 0
        fixture = make_fixture(
            platform, -(-(count + extra) // QUOTA), callback_url=callback_url if case == CASES[1] else None
        )
        issued = issue_tickets(platform, fixture, count)
        for index, tree in enumerate(trees):
            calls[(tree, case)] = issued[index * needed : (index + 1) * needed]
        if extra:
            oas = fixture.oas[-(-count // QUOTA) :]
            pages = [(open_page(platform, fixture, oa), oa.admin_wxid, oa.token) for oa in oas for _ in range(QUOTA)]
            pages = pages[:complete_count]
    register_history(platform)
    platform.engine.dispose()
    settle_database(url)
    return Prepared(calls, pages)


def start_tree(url: str, tree: str) -> Server:
    """A fastreg server running this checkout's code, or the package under another tree's ``src``."""
    data_dir = tempfile.mkdtemp(prefix="fastreg-bench-data-")
    if tree == THIS_TREE:
        return start_fastreg(url, data_dir)
    return start_fastreg(url, data_dir, PYTHONPATH=str(Path(tree).resolve()))


def measure_fastreg(
    url: str, tree: str, calls: dict[str, list[Call]], pages: list[tuple[str, str, str]], tool: str, **load_args: Any
) -> dict[str, float]:
    """One fastreg server (the code under ``tree``: this checkout, or another tree's ``src`` for a comparison):
    its bare /healthz, fastregister in each case, and complete registrations when ``pages`` are given."""
    server = start_tree(url, tree)
    figures: dict[str, float] = {}
    try:
        load(server.base_url, repeated(Call("GET", "/healthz"), 200_000), tool=tool, **{**load_args, "duration": 1})
        figures["healthz"] = load(
            server.base_url, repeated(Call("GET", "/healthz"), 400_000), tool=tool, **load_args
        ).rate
        for case, case_calls in calls.items():
            registered, figures[f"cpu {case}"] = timed_load(server, case_calls, tool=tool, **load_args)
            if registered.requests - registered.ok:
                print(f"  WARNING: {registered.requests - registered.ok} fastregister calls did not answer errcode 0")
            figures[case] = registered.ok_rate
        if pages:
            done, seconds = asyncio.run(complete_registrations(server.base_url, pages, load_args["connections"]))
            figures["complete"] = done / seconds if seconds else 0.0
    finally:
        server.stop()
    return figures


THIS_TREE = "this checkout"


def run_paired(
    kind: str, tool: str, connections: int, duration: float, pairs: int, compare: str | None = None
) -> dict[str, float]:
    """The reference app and fastreg both running, measured in turns: ``pairs`` times a load of the reference's
    one-insert POST, then of fastregister in each case (the order alternating from pair to pair), ``duration``
    seconds each. A ratio per pair and case, and their median: a slow minute of the shared machine falls on both
    sides of a pair, where the sequential run measures the reference a minute before fastreg. With ``compare``
    (another tree's ``src``) its server takes its turns too, and this tree's rate over its rate is reported."""
    trees = [THIS_TREE] + ([compare] if compare else [])
    receiver = CallbackServer()
    servers: dict[str, Server] = {}
    with database(kind) as url:
        migrate(url)
        reference = start_reference(url)
        try:
            insert = repeated(Call("POST", "/insert"), 400_000)
            load(reference.base_url, insert, tool=tool, connections=connections, duration=1)
            estimate = load(reference.base_url, insert, tool=tool, connections=connections, duration=duration)
            per_load = int(estimate.ok_rate * (duration + 1) * 1.3) + 500
            started = time.perf_counter()
            prepared = prepare(url, per_load * (pairs + 1), trees, 0, receiver.url)
            print(
                f"[{kind}] prepared {len(trees) * len(CASES) * per_load * (pairs + 1)} tickets (database settled) in "
                f"{time.perf_counter() - started:.0f} s"
            )
            for tree in trees:
                servers[tree] = start_tree(url, tree)
                # Warmed up as the reference was (the first loads of a fresh server run slower): one load per case.
                for case in CASES:
                    warm = prepared.calls[(tree, case)][pairs * per_load :]
                    load(servers[tree].base_url, warm, tool=tool, connections=connections, duration=duration)

            sides = [(tree, case) for tree in trees for case in CASES]
            ratios: dict[tuple[str, str], list[float]] = {side: [] for side in sides}
            against: dict[str, list[float]] = {case: [] for case in CASES}  # this tree's rate over the other's
            cpu: dict[str, list[float]] = {name: [] for name in ("reference", *(_label(*side) for side in sides))}
            database_cpu: dict[str, list[float]] = {name: [] for name in cpu}
            for pair in range(pairs):
                turns: list[tuple[str, Server, list[Call]]] = [("reference", reference, insert)] + [
                    (
                        _label(tree, case),
                        servers[tree],
                        prepared.calls[(tree, case)][pair * per_load : (pair + 1) * per_load],
                    )
                    for tree, case in sides
                ]
                if pair % 2:
                    turns = turns[1:] + turns[:1]  # fastreg first in every other pair
                rates: dict[str, float] = {}
                for name, target, calls in turns:
                    database_before = database_cpu_seconds()
                    result, cost = timed_load(target, calls, tool=tool, connections=connections, duration=duration)
                    rates[name] = result.ok_rate
                    cpu[name].append(cost)
                    database_cpu[name].append((database_cpu_seconds() - database_before) / max(result.ok, 1))
                for side in sides:
                    ratios[side].append(rates[_label(*side)] / rates["reference"] if rates["reference"] else 0.0)
                if compare:
                    for case in CASES:
                        other = rates[_label(compare, case)]
                        against[case].append(rates[_label(THIS_TREE, case)] / other if other else 0.0)
                print(
                    f"[{kind}] pair {pair + 1}: reference {rates['reference']:,.0f}/s, "
                    + ", ".join(
                        f"{_label(*side)} {rates[_label(*side)]:,.0f}/s (ratio {ratios[side][-1]:.2f})"
                        for side in sides
                    ),
                    flush=True,
                )
        finally:
            for server in servers.values():
                server.stop()
            reference.stop()
            receiver.close()
    figures = {f"ratio {case}": statistics.median(ratios[(THIS_TREE, case)]) for case in CASES}
    figures.update({f"server CPU ms {name}": statistics.median(values) * 1000 for name, values in cpu.items()})
    figures.update({f"database CPU ms {name}": statistics.median(v) * 1000 for name, v in database_cpu.items()})

    def spent(name: str) -> str:
        database = figures[f"database CPU ms {name}"]
        return f"{figures[f'server CPU ms {name}']:.2f} ms" + (f" (+ PostgreSQL {database:.2f} ms)" if database else "")

    for tree, case in sides:
        values, name = ratios[(tree, case)], _label(tree, case)
        print(
            f"[{kind}] ratio, {name}: median {statistics.median(values):.2f} of {pairs} pairs "
            f"(min {min(values):.2f}, max {max(values):.2f}; target >= {TARGETS[kind]}); server CPU "
            f"{spent(name)} per registration against {spent('reference')} per insert"
        )
    for case in CASES if compare else ():
        print(
            f"[{kind}] this tree over {compare}, {case}: median {statistics.median(against[case]):.3f} "
            f"(min {min(against[case]):.3f}, max {max(against[case]):.3f})"
        )
    return figures


def _label(tree: str, case: str) -> str:
    """A measured side's name: the case for this tree, the case and the tree for another."""
    return case if tree == THIS_TREE else f"{case} ({tree})"


def database_cpu_seconds() -> float:
    """CPU time used so far by this machine's PostgreSQL processes (0 without any): the database's share of a
    request, on the same two CPUs as the server and the load generator."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                total += cpu_seconds(int(comm.parent.name))
        except OSError:
            continue  # exited meanwhile
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far (Linux). Per registration it varies far less with
    the machine's load than a rate does: the figure to compare two versions of the code by."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_database(
    kind: str, tool: str, connections: int, duration: float, complete_count: int, compare: str | None
) -> dict[str, float]:
    trees = [THIS_TREE] + ([compare] if compare else [])
    receiver = CallbackServer()
    try:
        with database(kind) as url:
            migrate(url)
            health_ref, inserts, reference_cpu = measure_reference(url, tool, connections, duration)
            print(
                f"[{kind}] reference app: GET /healthz {health_ref.rate:,.0f}/s, "
                f"one-insert POST {inserts.ok_rate:,.0f}/s ({reference_cpu * 1000:.2f} ms of server CPU each)"
            )
            # Enough tickets for fastreg to run at up to 1.3x the reference insert rate for the whole run.
            needed = int(inserts.ok_rate * (duration + 1) * 1.3) + 500
            started = time.perf_counter()
            prepared = prepare(url, needed, trees, complete_count, receiver.url)
            print(
                f"[{kind}] prepared {len(trees) * len(CASES) * needed} tickets (database settled) in "
                f"{time.perf_counter() - started:.0f} s"
            )
            figures: dict[str, float] = {
                "reference_healthz": health_ref.rate,
                "reference_insert": inserts.ok_rate,
                "reference server CPU ms": reference_cpu * 1000,
            }
            for tree in trees:
                calls = {case: prepared.calls[(tree, case)] for case in CASES}
                pages = prepared.pages if tree == THIS_TREE else []
                measured = measure_fastreg(url, tree, calls, pages, tool, connections=connections, duration=duration)
                label = "" if tree == THIS_TREE else f" ({tree})"
                for case in CASES:
                    figures[f"fastregister {case}{label}"] = measured[case]
                    figures[f"ratio {case}{label}"] = measured[case] / inserts.ok_rate if inserts.ok_rate else 0.0
                figures[f"fastreg_healthz{label}"] = measured["healthz"]
                if "complete" in measured:
                    figures["complete_registrations"] = measured["complete"]
                for case in CASES:
                    figures[f"server CPU ms {case}{label}"] = measured[f"cpu {case}"] * 1000
                rates = ", ".join(
                    f"{case} {measured[case]:,.0f}/s ({measured[f'cpu {case}'] * 1000:.2f} ms of server CPU each)"
                    for case in CASES
                )
                print(f"[{kind}] fastreg{label}: GET /healthz {measured['healthz']:,.0f}/s, fastregister: {rates}")
            figures["pushes received"] = len(receiver.pushes)
            for case in CASES:
                print(f"[{kind}] ratio, {case} = {figures[f'ratio {case}']:.2f} (target >= {TARGETS[kind]})")
            print(f"[{kind}] pushes received by the callback URL: {len(receiver.pushes)}")
            return figures
    finally:
        receiver.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tool", choices=["wrk", "asyncio"], default=default_tool())
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured load")
    parser.add_argument("--complete", type=int, default=500, help="complete registrations to time")
    parser.add_argument(
        "--compare",
        metavar="SRC",
        help="also measure the fastreg package under SRC (the src/ of another checkout, same schema) on the same "
        "database, right after this one",
    )
    parser.add_argument(
        "--paired",
        type=int,
        metavar="N",
        help="instead: N pairs of loads of the reference and of fastreg, both servers running, measured in turns "
        "(--duration seconds each); prints the median of the pairs' ratios (with --compare, the other tree's "
        "server takes its turns too)",
    )
    parser.add_argument(
        "--calls-by-oa",
        action="store_true",
        help="send each OA's five calls one after the other, as before: they arrive together and each waits for "
        "the one before to commit (its monthly counter's row lock); by default they are dealt out OA after OA",
    )
    args = parser.parse_args()
    global calls_by_oa
    calls_by_oa = args.calls_by_oa
    print(f"machine: {machine()}; load generator: {args.tool}, {args.connections} connections, {args.duration:g} s")
    print("calls: each OA's one after the other" if calls_by_oa else "calls: dealt out one OA after another")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if args.paired:
        paired = {
            kind: run_paired(kind, args.tool, args.connections, args.duration, args.paired, args.compare)
            for kind in kinds
        }
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        met = all(f[f"ratio {case}"] >= TARGETS[kind] for kind, f in paired.items() for case in CASES)
        return 0 if met else 1
    results = {
        kind: run_database(kind, args.tool, args.connections, args.duration, args.complete, args.compare)
        for kind in kinds
    }
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print()
    columns = [
        "reference_insert",
        "reference server CPU ms",
        *[f"fastregister {case}" for case in CASES],
        *[f"ratio {case}" for case in CASES],
    ]
    columns += [f"server CPU ms {case}" for case in CASES]
    if args.compare:
        columns += [
            f"{figure} {case} ({args.compare})"
            for figure in ("fastregister", "ratio", "server CPU ms")
            for case in CASES
        ]
    columns += ["complete_registrations"]
    for kind, figures in results.items():
        print(f"{kind}: " + "; ".join(f"{name} {_figure(figures[name])}" for name in columns if name in figures))
    return 0 if all(f[f"ratio {case}"] >= TARGETS[kind] for kind, f in results.items() for case in CASES) else 1


def _figure(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.0f}"


if __name__ == "__main__":
    sys.exit(main())
