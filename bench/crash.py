"""Crash safety: SIGKILL the server in the middle of a registration load, restart it, check the database.

A component spends prepared tickets (``POST /cgi-bin/account/fastregister``) for many OAs over many
connections; once ``--kill-after`` registrations have been answered, the server (uvicorn and its workers) gets
SIGKILL while requests are in flight. The server is started again on the same database and the script checks:

1. every registration whose success was answered exists (its appid is an MP, created by the right OA);
2. no half-created MP: every MP has its link to the OA (fast_register), its completed registration row, and is
   counted in the OA's monthly quota and in its principal's MP total; every consumed ticket has its MP and
   every MP has consumed exactly one ticket;
3. no over-spent quota: no OA's monthly counter exceeds the limit;
4. the restarted server works: the tickets that got no answer are spent again, each either registering now
   (its transaction had not committed) or being refused 61058 because it had (and its MP exists).

Exits non-zero when any check fails.

    .venv/bin/python bench/crash.py                   # SQLite, 3 rounds
    .venv/bin/python bench/crash.py --db postgres --workers 2 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Call,
    Server,
    _read_response,
    _request_bytes,
    bench_platform,
    database,
    issue_ticket,
    machine,
    make_fixture,
    migrate,
    run_calls,
    start_fastreg,
)

QUOTA = 5


@dataclass
class Sent:
    call: Call
    oa_appid: str
    answered: bool = False
    errcode: int | None = None
    appid: str | None = None


@dataclass
class Report:
    answered_successes: int = 0
    unanswered: int = 0
    retried_registered: int = 0
    retried_refused_61058: int = 0
    mps: int = 0
    problems: list[str] = field(default_factory=list)


async def _load_until_killed(server: Server, sent: list[Sent], connections: int, kill_after: int) -> None:
    parsed = urlparse(server.base_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    host_header = f"{host}:{port}"
    queue = list(range(len(sent) - 1, -1, -1))
    successes = 0
    killed = asyncio.Event()

    async def worker() -> None:
        nonlocal successes
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            return
        try:
            while queue and not killed.is_set():
                item = sent[queue.pop()]
                try:
                    writer.write(_request_bytes(item.call, host_header))
                    status, body = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    return  # no answer: the server is gone
                item.answered = True
                answer = json.loads(body) if body else {}
                item.errcode = answer.get("errcode")
                if status == 200 and item.errcode == 0:
                    item.appid = answer["appid"]
                    successes += 1
                    if successes >= kill_after and not killed.is_set():
                        killed.set()
                        server.kill()  # SIGKILL with requests in flight on the other connections
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    if not killed.is_set():
        server.kill()


def verify(platform: Any, sent: list[Sent], report: Report) -> None:
    from sqlalchemy import func, select

    from fastreg.adapters.db.models import (
        Credential,
        Link,
        MiniProgram,
        MonthlyCounter,
        OfficialAccount,
        Principal,
        Registration,
    )

    problems = report.problems
    with platform.uow(readonly=True) as uow:
        s = uow.session
        oa_by_id = {oa.id: oa for oa in s.execute(select(OfficialAccount)).scalars()}
        mps = list(s.execute(select(MiniProgram)).scalars())
        report.mps = len(mps)
        mp_by_appid = {mp.appid: mp for mp in mps}
        # 1. every answered success exists, created by the OA that asked
        for item in sent:
            if item.appid is None:
                continue
            mp = mp_by_appid.get(item.appid)
            if mp is None:
                problems.append(f"answered success {item.appid} has no MP after the restart")
            elif mp.created_by_oa_id is None or oa_by_id[mp.created_by_oa_id].appid != item.oa_appid:
                problems.append(f"MP {item.appid} belongs to the wrong OA")
        # 2. no half-created MP
        links = {(link.oa_id, link.mp_id): link for link in s.execute(select(Link)).scalars()}
        registrations = {
            r.mp_id: r for r in s.execute(select(Registration).where(Registration.mp_id.is_not(None))).scalars()
        }
        for mp in mps:
            link = links.get((mp.created_by_oa_id, mp.id))
            if link is None or link.linked_via != "fast_register" or link.status != "linked":
                problems.append(f"MP {mp.appid} has no fast_register link to its OA")
            registration = registrations.get(mp.id)
            if registration is None or registration.status != "completed":
                problems.append(f"MP {mp.appid} has no completed registration")
        per_oa: dict[int, int] = {}
        for mp in mps:
            if mp.created_by_oa_id is not None:
                per_oa[mp.created_by_oa_id] = per_oa.get(mp.created_by_oa_id, 0) + 1
        counters: dict[int, int] = {}
        for counter in s.execute(select(MonthlyCounter).where(MonthlyCounter.kind == "registration")).scalars():
            counters[counter.oa_id] = counters.get(counter.oa_id, 0) + counter.used
        for oa_id in set(per_oa) | set(counters):
            if per_oa.get(oa_id, 0) != counters.get(oa_id, 0):
                problems.append(
                    f"OA {oa_by_id[oa_id].appid}: {per_oa.get(oa_id, 0)} MPs but quota counter {counters.get(oa_id, 0)}"
                )
            # 3. no over-spent quota
            if counters.get(oa_id, 0) > platform.settings.monthly_quota:
                problems.append(f"OA {oa_by_id[oa_id].appid} over quota: {counters[oa_id]}")
        principal_mps: dict[int, int] = {}
        for mp in mps:
            principal_mps[mp.principal_id] = principal_mps.get(mp.principal_id, 0) + 1
        for principal in s.execute(select(Principal)).scalars():
            owned = principal_mps.get(principal.id, 0)
            if principal.mp_count != owned:
                problems.append(f"principal {principal.name}: mp_count {principal.mp_count}, MPs {owned}")
        used_tickets = s.execute(
            select(func.count())
            .select_from(Credential)
            .where(Credential.kind == "fastregister_ticket", Credential.used_at.is_not(None))
        ).scalar_one()
        if used_tickets != len(mps):
            problems.append(f"{used_tickets} tickets consumed but {len(mps)} MPs exist")


def run_round(kind: str, tickets: int, kill_after: int, connections: int, workers: int) -> Report:
    report = Report()
    with database(kind) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-crash-")
        platform = bench_platform(url, data_dir)
        fixture = make_fixture(platform, -(-tickets // QUOTA))
        sent: list[Sent] = []
        for index in range(tickets):
            oa = fixture.oas[index // QUOTA]
            body = json.dumps({"ticket": issue_ticket(platform, fixture, oa)}).encode()
            sent.append(Sent(Call("POST", f"/cgi-bin/account/fastregister?access_token={oa.token}", body), oa.appid))
        # Spread the load over the OAs (consecutive tickets belong to one OA).
        sent = sent[0::QUOTA] + sent[1::QUOTA] + sent[2::QUOTA] + sent[3::QUOTA] + sent[4::QUOTA]
        server = start_fastreg(url, data_dir, workers=workers)
        try:
            asyncio.run(_load_until_killed(server, sent, connections, kill_after))
        finally:
            server.kill()
        report.answered_successes = sum(1 for item in sent if item.appid)
        unanswered = [item for item in sent if not item.answered]
        report.unanswered = len(unanswered)
        # Restart on the same database and spend the unanswered tickets again.
        server = start_fastreg(url, data_dir, workers=workers)
        try:
            retried = run_calls(server.base_url, [item.call for item in unanswered], connections=8, keep_bodies=True)
        finally:
            server.stop()
        for item, body in zip(unanswered, retried.bodies, strict=True):
            answer = json.loads(body) if body else {}
            if answer.get("errcode") == 0:
                report.retried_registered += 1
                item.appid = answer["appid"]
            elif answer.get("errcode") == 61058:
                report.retried_refused_61058 += 1
            else:
                report.problems.append(f"after the restart a pending ticket got {answer or 'no answer'}")
        verify(platform, sent, report)
        platform.engine.dispose()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--kill-after", type=int, default=200, help="answered registrations before SIGKILL")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    failed = False
    for kind in kinds:
        for round_number in range(1, args.rounds + 1):
            started = time.perf_counter()
            report = run_round(kind, args.tickets, args.kill_after, args.connections, args.workers)
            status = "OK" if not report.problems else "FAILED"
            print(
                f"[{kind} round {round_number}] {status}: {report.answered_successes} successes answered before "
                f"SIGKILL, {report.unanswered} requests unanswered; after restart {report.retried_registered} "
                f"registered on retry, {report.retried_refused_61058} already spent (61058); {report.mps} MPs, "
                f"all complete ({time.perf_counter() - started:.0f} s)"
            )
            for problem in report.problems[:20]:
                print(f"    {problem}")
            failed = failed or bool(report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
