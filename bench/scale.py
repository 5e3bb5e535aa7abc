"""Latency at scale: 1,000,000 OAs and 5,000,000 MPs in PostgreSQL against an empty database.

1. Two fresh PostgreSQL databases, each with the same small fixture made through the services layer (a
   component authorized by some OAs, four of them with five fast-registered MPs).
2. Bulk load of the second: 1,000,000 principals and OAs and 5,000,000 MPs (five per OA) with PostgreSQL
   ``COPY`` (streamed from Python), then their identifiers, fast-register links, completed registrations and
   quota counters with set-based ``INSERT ... SELECT``; ``VACUUM (ANALYZE)``, and a wait until no autovacuum
   worker runs (the steady state is measured, not a database busy with its post-load maintenance).
3. Tickets issued on both; one fastreg server (uvicorn, one worker) per database; one request at a time,
   alternating between the two in small batches (so a change of load on the machine weighs on both alike):
   fast registrations (``account/fastregister``) and ``wxamplinkget`` of the OAs with five MPs. Prints the p50
   of each on each database and the ratio loaded/empty (target <= 1.5x).

    .venv/bin/python bench/scale.py                       # 1M OAs, 5M MPs (several minutes)
    .venv/bin/python bench/scale.py --oas 100000          # a quicker look
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench._common import (
    Call,
    Fixture,
    bench_platform,
    issue_ticket,
    machine,
    make_fixture,
    migrate,
    postgres_database,
    run_calls,
    settle_database,
    start_fastreg,
)

QUOTA = 5
MPS_PER_OA = 5


@dataclass
class Side:
    """One database (empty, or loaded) with its fixture and, during the measurement, its server."""

    name: str
    url: str
    data_dir: str
    platform: Any
    fixture: Fixture
    link_calls: list[Call] = field(default_factory=list)
    reg_calls: list[Call] = field(default_factory=list)
    reg_latencies: list[float] = field(default_factory=list)
    link_latencies: list[float] = field(default_factory=list)


LINKED_OAS = 4  # OAs with five fast-registered MPs each, listed by wxamplinkget


def prepare(name: str, url: str, registrations: int) -> Side:
    """The fixture: a component, OAs authorized to it, and LINKED_OAS of them with five MPs each."""
    from fastreg.services.fastregister import fastregister_with_token

    data_dir = tempfile.mkdtemp(prefix=f"fastreg-scale-{name}-")
    platform = bench_platform(url, data_dir)
    fixture = make_fixture(platform, LINKED_OAS + -(-registrations // QUOTA))
    for oa in fixture.oas[:LINKED_OAS]:
        for _ in range(QUOTA):
            fastregister_with_token(platform, oa.token, issue_ticket(platform, fixture, oa))
    side = Side(name, url, data_dir, platform, fixture)
    side.link_calls = [
        Call("POST", f"/cgi-bin/wxopen/wxamplinkget?access_token={oa.token}", b"{}") for oa in fixture.oas[:LINKED_OAS]
    ]
    return side


def issue_tickets(side: Side, registrations: int) -> None:
    oas = side.fixture.oas[LINKED_OAS:]
    side.reg_calls = [
        Call(
            "POST",
            f"/cgi-bin/account/fastregister?access_token={oas[i // QUOTA].token}",
            json.dumps({"ticket": issue_ticket(side.platform, side.fixture, oas[i // QUOTA])}).encode(),
        )
        for i in range(registrations)
    ]
    side.platform.engine.dispose()


def measure(sides: list[Side], rounds: int, link_repeats: int) -> None:
    """Both servers run at once; the calls alternate between them in small batches, one request at a time, so
    that a change of load on the machine weighs on both alike."""
    servers = [start_fastreg(side.url, side.data_dir) for side in sides]
    try:
        for side, server in zip(sides, servers, strict=True):
            run_calls(server.base_url, side.link_calls * 25, connections=1)  # warm-up
        for index in range(rounds):
            for side, server in zip(sides, servers, strict=True):
                batch = side.reg_calls[index::rounds]
                registered = run_calls(server.base_url, batch, connections=1)
                if registered.ok != len(batch):
                    raise RuntimeError(f"{side.name}: only {registered.ok} of {len(batch)} registrations succeeded")
                side.reg_latencies += registered.latencies
                listed = run_calls(server.base_url, side.link_calls * link_repeats, connections=1)
                if listed.ok != listed.requests:
                    raise RuntimeError(f"{side.name}: a wxamplinkget call failed")
                side.link_latencies += listed.latencies
    finally:
        for server in servers:
            server.stop()


def bulk_load(url: str, oas: int, batch: int = 200_000) -> float:
    """COPY ``oas`` principals and OAs and ``5 * oas`` MPs, then their dependent rows; returns the seconds."""
    import psycopg

    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(max(id), 0) FROM principals")
            base_principal = int(cur.fetchone()[0]) + 1_000  # type: ignore[index]
            cur.execute("SELECT coalesce(max(id), 0) FROM official_accounts")
            base_oa = int(cur.fetchone()[0]) + 1_000  # type: ignore[index]
            cur.execute("SELECT coalesce(max(id), 0) FROM mini_programs")
            base_mp = int(cur.fetchone()[0]) + 1_000  # type: ignore[index]
            now = "2026-01-01 00:00:00+00"
            until = "2030-01-01 00:00:00+00"
            secret = "0" * 64
            with cur.copy("COPY principals (id, name, type, blacklisted, mp_count) FROM STDIN") as copy:
                for i in range(oas):
                    copy.write_row((base_principal + i, f"scale principal {i}", "enterprise", False, MPS_PER_OA))
            print(f"  principals: {time.perf_counter() - started:.0f} s", flush=True)
            columns = (
                "id, appid, secret_hash, original_id, name, principal_id, verified, verify_expires_at, overseas, "
                "admin_wxid, created_at"
            )
            with cur.copy(f"COPY official_accounts ({columns}) FROM STDIN") as copy:
                for i in range(oas):
                    copy.write_row(
                        (
                            base_oa + i,
                            f"wxa{i:015x}",
                            secret,
                            f"gh_a{i:011x}",
                            f"Scale OA {i}",
                            base_principal + i,
                            True,
                            until,
                            False,
                            f"wxid_a{i:014x}",
                            now,
                        )
                    )
            print(f"  official accounts: {time.perf_counter() - started:.0f} s", flush=True)
            columns = (
                "id, appid, secret_hash, original_id, name, principal_id, created_by_oa_id, admin_wxid, email, "
                "password_hash, active, certified, certified_until, created_via, status, created_at, completed_at"
            )
            total = oas * MPS_PER_OA
            for first in range(0, total, batch):
                with cur.copy(f"COPY mini_programs ({columns}) FROM STDIN") as copy:
                    for j in range(first, min(total, first + batch)):
                        oa_index = j // MPS_PER_OA
                        copy.write_row(
                            (
                                base_mp + j,
                                f"wxm{j:015x}",
                                secret,
                                f"gh_m{j:011x}",
                                None,
                                base_principal + oa_index,
                                base_oa + oa_index,
                                f"wxid_a{oa_index:014x}",
                                None,
                                None,
                                True,
                                True,
                                until,
                                "open_api",
                                "completed",
                                now,
                                now,
                            )
                        )
            print(f"  mini programs: {time.perf_counter() - started:.0f} s", flush=True)
            lo_oa, lo_mp = base_oa, base_mp
            cur.execute(
                "INSERT INTO identifiers (value, kind) SELECT appid, 'appid' FROM official_accounts WHERE id >= %s "
                "UNION ALL SELECT original_id, 'original_id' FROM official_accounts WHERE id >= %s "
                "UNION ALL SELECT appid, 'appid' FROM mini_programs WHERE id >= %s "
                "UNION ALL SELECT original_id, 'original_id' FROM mini_programs WHERE id >= %s",
                (lo_oa, lo_oa, lo_mp, lo_mp),
            )
            cur.execute(
                "INSERT INTO links (oa_id, mp_id, status, linked_via, show_profile, notify_users, created_at, "
                "linked_at) SELECT created_by_oa_id, id, 'linked', 'fast_register', false, false, created_at, "
                "created_at FROM mini_programs WHERE id >= %s",
                (lo_mp,),
            )
            cur.execute(
                "INSERT INTO registrations (oa_id, channel, status, reuse_certification, reuse_operator, mp_id, "
                "admin_wxid, created_at, updated_at, completed_at) SELECT created_by_oa_id, 'open_api', "
                "'completed', true, false, id, admin_wxid, created_at, created_at, created_at FROM mini_programs "
                "WHERE id >= %s",
                (lo_mp,),
            )
            cur.execute(
                "INSERT INTO monthly_counters (oa_id, kind, month, used) SELECT id, 'registration', '2026-01', %s "
                "FROM official_accounts WHERE id >= %s",
                (MPS_PER_OA, lo_oa),
            )
            for table in ("principals", "official_accounts", "mini_programs", "links", "registrations"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        print(f"  dependent rows: {time.perf_counter() - started:.0f} s", flush=True)
    # VACUUM too, so that autovacuum does not start on the new rows while the latencies are measured.
    settle_database(url)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oas", type=int, default=1_000_000, help="OAs to load (5 MPs each)")
    parser.add_argument("--registrations", type=int, default=200, help="fast registrations timed per database")
    parser.add_argument("--rounds", type=int, default=10, help="alternations between the two databases")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with postgres_database("fastreg_scale_empty") as empty_url, postgres_database("fastreg_scale_loaded") as url:
        migrate(empty_url)
        migrate(url)
        empty = prepare("empty", empty_url, args.registrations)
        loaded = prepare("loaded", url, args.registrations)
        with loaded.platform.engine.connect() as conn:
            before = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        print(f"loading {args.oas:,} OAs and {args.oas * MPS_PER_OA:,} MPs ...", flush=True)
        seconds = bulk_load(url, args.oas)
        with loaded.platform.engine.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            counts = conn.execute(
                text("SELECT (SELECT count(*) FROM official_accounts), (SELECT count(*) FROM mini_programs)")
            ).one()
        print(
            f"loaded in {seconds:.0f} s: {counts[0]:,} OAs, {counts[1]:,} MPs, database {size / 2**30:.2f} GiB "
            f"(was {before / 2**20:.0f} MiB)"
        )
        for side in (empty, loaded):
            issue_tickets(side, args.registrations)
        measure([empty, loaded], args.rounds, link_repeats=5)
    p50 = statistics.median
    reg_empty, reg_loaded = p50(empty.reg_latencies), p50(loaded.reg_latencies)
    link_empty, link_loaded = p50(empty.link_latencies), p50(loaded.link_latencies)
    print(f"empty database:  fastregister p50 {reg_empty * 1000:.1f} ms, wxamplinkget p50 {link_empty * 1000:.1f} ms")
    print(f"loaded database: fastregister p50 {reg_loaded * 1000:.1f} ms, wxamplinkget p50 {link_loaded * 1000:.1f} ms")
    reg_ratio, link_ratio = reg_loaded / reg_empty, link_loaded / link_empty
    print(f"ratio loaded/empty: fastregister {reg_ratio:.2f}x, wxamplinkget {link_ratio:.2f}x (target <= 1.5x)")
    return 0 if reg_ratio <= 1.5 and link_ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
