"""200 concurrent fast registrations for ONE Official Account: exactly the quota must be granted.

The OA admin confirms 200 authorization pages beforehand (through the services layer), so the component holds
200 valid tickets for the same OA; then 200 connections each send one ``POST /cgi-bin/account/fastregister``
at the same moment. Prints how many were granted (must equal the OA's monthly quota, 5), how the others were
refused, p50/p99 latency, and checks the database afterwards (MPs, links, registrations and the quota counter
of the OA all equal the quota). Runs against one worker on SQLite and two workers sharing PostgreSQL.

    .venv/bin/python bench/contention.py                      # sqlite (1 worker), then postgres (2 workers)
    .venv/bin/python bench/contention.py --db postgres --workers 2 --requests 200
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench._common import (
    Call,
    bench_platform,
    database,
    issue_ticket,
    machine,
    make_fixture,
    migrate,
    run_calls,
    start_fastreg,
)


def run(kind: str, workers: int, requests: int) -> bool:
    from fastreg.adapters.db.models import Link, MiniProgram, MonthlyCounter, OfficialAccount, Registration

    with database(kind) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-contention-")
        platform = bench_platform(url, data_dir)
        quota = platform.settings.monthly_quota
        fixture = make_fixture(platform, 1)
        oa = fixture.oas[0]
        calls = [
            Call(
                "POST",
                f"/cgi-bin/account/fastregister?access_token={oa.token}",
                json.dumps({"ticket": issue_ticket(platform, fixture, oa)}).encode(),
            )
            for _ in range(requests)
        ]
        server = start_fastreg(url, data_dir, workers=workers)
        try:
            # One connection per request, all sent at once.
            result = run_calls(server.base_url, calls, connections=requests, keep_bodies=True)
        finally:
            server.stop()
        outcomes = collections.Counter(
            json.loads(body).get("errcode") if body else "no answer" for body in result.bodies
        )
        granted = outcomes.get(0, 0)
        with platform.uow(readonly=True) as uow:
            session = uow.session
            oa_id = session.execute(select(OfficialAccount.id).where(OfficialAccount.appid == oa.appid)).scalar_one()

            def count(model: type, *where: object) -> int:
                return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar_one())

            mps = count(MiniProgram, MiniProgram.created_by_oa_id == oa_id)
            links = count(Link, Link.oa_id == oa_id)
            completed = count(Registration, Registration.oa_id == oa_id, Registration.status == "completed")
            used = session.execute(
                select(func.coalesce(func.sum(MonthlyCounter.used), 0)).where(
                    MonthlyCounter.oa_id == oa_id, MonthlyCounter.kind == "registration"
                )
            ).scalar_one()
        platform.engine.dispose()
    refused = ", ".join(f"{code}: {n}" for code, n in sorted(outcomes.items(), key=str) if code != 0)
    print(
        f"[{kind}, {workers} worker{'s' if workers > 1 else ''}] {requests} concurrent fastregister for one OA: "
        f"granted {granted} (quota {quota}); refused {refused or 'none'}; "
        f"p50 {result.percentile(50) * 1000:.0f} ms, p99 {result.percentile(99) * 1000:.0f} ms"
    )
    print(f"[{kind}] database: {mps} MPs, {links} links, {completed} completed registrations, quota counter {used}")
    ok = granted == quota == mps == links == completed == used and outcomes.get(61055, 0) == requests - quota
    print(f"[{kind}] {'OK' if ok else 'FAILED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", type=int, default=None, help="default: 1 on SQLite, 2 on PostgreSQL")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = [run(kind, args.workers or (1 if kind == "sqlite" else 2), args.requests) for kind in kinds]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
