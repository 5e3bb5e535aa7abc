"""Start-up time and sandbox reset time (targets: < 1 s to the first answered request, reset < 5 ms on SQLite).

- start-up: from launching ``uvicorn fastreg.web.app:create_app --factory`` (one worker, migrated SQLite
  database) to the first ``GET /healthz`` answered 200, polled every 5 ms; the median of several starts;
- reset: ``POST /sandbox/v1/reset`` on a sandbox holding a typical test's data (a component, two OAs with
  operators, a confirmation and a registration); the server-side time (``elapsed_ms`` in the answer) and the
  round trip seen by the client, medians over many resets.

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --db postgres
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import SANDBOX_KEY, database, fastreg_env, free_port, machine, migrate, start_server


def start_once(url: str, data_dir: str) -> float:
    port = free_port()
    server = start_server("fastreg.web.app:create_app", fastreg_env(url, data_dir, port), port)
    try:
        return server.started_in
    finally:
        server.stop()


def seed(client: httpx.Client) -> None:
    component = client.post(
        "/sandbox/v1/components", json={"name": "Reset bench", "redirect_domain": "tp.example.com"}
    ).raise_for_status()
    del component
    for index in range(2):
        oa = client.post(
            "/sandbox/v1/official-accounts",
            json={"name": f"OA {index}", "principal_name": f"Principal {index}", "principal_type": "enterprise"},
        ).raise_for_status()
        del oa


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--resets", type=int, default=50)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with database(args.db) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-startup-")
        start_once(url, data_dir)  # first start: byte-compiles and warms the OS file cache
        starts = [start_once(url, data_dir) for _ in range(args.starts)]
        port = free_port()
        server = start_server("fastreg.web.app:create_app", fastreg_env(url, data_dir, port), port)
        server_ms: list[float] = []
        round_trip_ms: list[float] = []
        try:
            with httpx.Client(base_url=server.base_url, headers={"X-Sandbox-Key": SANDBOX_KEY}, timeout=30) as client:
                for _ in range(args.resets):
                    seed(client)
                    started = time.perf_counter()
                    answer = client.post("/sandbox/v1/reset").raise_for_status().json()
                    round_trip_ms.append((time.perf_counter() - started) * 1000)
                    server_ms.append(float(answer["elapsed_ms"]))
        finally:
            server.stop()
    start_ms = statistics.median(starts) * 1000
    reset_ms = statistics.median(server_ms)
    print(
        f"[{args.db}] start-up to first answered request: median {start_ms:.0f} ms of {len(starts)} starts "
        f"(min {min(starts) * 1000:.0f}, max {max(starts) * 1000:.0f}) (target < 1000 ms)"
    )
    p90 = sorted(server_ms)[int(0.9 * len(server_ms))]
    print(
        f"[{args.db}] POST /sandbox/v1/reset: median {reset_ms:.2f} ms in the server, "
        f"{statistics.median(round_trip_ms):.2f} ms round trip, p90 {p90:.2f} ms "
        f"(target < 5 ms on SQLite)"
    )
    ok = start_ms < 1000 and (args.db != "sqlite" or reset_ms < 5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
