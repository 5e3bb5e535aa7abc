"""Does the event loop stay free while the console works? ``GET /healthz`` latency while console logins run.

A login verifies an argon2 hash (tens of milliseconds of CPU) and writes a session. Run on the event loop, every
request of the process waits for it; run in a worker thread (``fastreg.runner``), the loop keeps answering.
This starts one server, creates ``--logins`` operators (real argon2 parameters, through the services), then for
``--seconds`` keeps that many logins running at once (each client: GET /login for the CSRF token, POST /login,
again) while one prober sends ``GET /healthz`` one after the other. Prints the probe's p50/p99/max idle and under
the logins, and the logins completed per second, on SQLite then PostgreSQL.

    .venv/bin/python bench/loop_latency.py                       # sqlite, then postgres
    .venv/bin/python bench/loop_latency.py --db sqlite --logins 4 --seconds 10
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/loop_latency.py   # another checkout's code
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._common import bench_platform, database, machine, migrate, ms, start_fastreg

PASSWORD = "Bench-login-9x"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_operators(url: str, data_dir: str, count: int) -> list[str]:
    """``count`` OAs, each with an operator login hashed with the production argon2 parameters."""
    from fastreg.services.accounts import create_official_account

    platform = bench_platform(url, data_dir)
    emails = []
    try:
        for n in range(count):
            create_official_account(
                platform,
                name=f"Loop bench OA {n}",
                principal_name=f"Loop bench principal {n}",
                principal_type="enterprise",
                verified=True,
                overseas=False,
                admin_wxid=None,
                operator_email=f"op{n}@loop.example",
                operator_password=PASSWORD,
            )
            emails.append(f"op{n}@loop.example")
    finally:
        platform.engine.dispose()
    return emails


async def login_loop(base_url: str, email: str, stop: asyncio.Event, done: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            page = await client.get("/login")
            match = CSRF.search(page.text)
            assert match is not None, "no csrf_token on the login page"
            started = time.perf_counter()
            answer = await client.post(
                "/login", data={"email": email, "password": PASSWORD, "csrf_token": match.group(1), "next": ""}
            )
            assert answer.status_code == 303, f"login answered {answer.status_code}"
            done.append(time.perf_counter() - started)
            client.cookies.delete("fastreg_session")


async def probe(base_url: str, stop: asyncio.Event, samples: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            answer = await client.get("/healthz")
            samples.append(time.perf_counter() - started)
            assert answer.status_code == 200
            await asyncio.sleep(0.005)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(samples: list[float]) -> str:
    return (
        f"p50 {ms(quantile(samples, 0.5))}  p99 {ms(quantile(samples, 0.99))}  max {ms(max(samples))}"
        f"  ({len(samples)} probes)"
    )


async def measure(base_url: str, emails: list[str], seconds: float) -> tuple[list[float], list[float], list[float]]:
    idle: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(base_url, stop, idle))
    await asyncio.sleep(min(2.0, seconds))
    stop.set()
    await prober
    busy: list[float] = []
    logins: list[float] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(login_loop(base_url, email, stop, logins)) for email in emails]
    await asyncio.sleep(0.5)  # every client is logging in
    prober = asyncio.create_task(probe(base_url, stop, busy))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(prober, *tasks)
    return idle, busy, logins


def run(kind: str, logins: int, seconds: float) -> None:
    with database(kind) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-loop-")
        emails = make_operators(url, data_dir, logins)
        server = start_fastreg(url, data_dir, FASTREG_LOG_LEVEL="WARNING")
        try:
            idle, busy, done = asyncio.run(measure(server.base_url, emails, seconds))
        finally:
            server.stop()
    print(f"{kind}: GET /healthz idle                    {summary(idle)}")
    print(f"{kind}: GET /healthz during {logins} logins at once  {summary(busy)}")
    each = f"p50 {ms(quantile(done, 0.5))} p99 {ms(quantile(done, 0.99))}"
    print(f"{kind}: logins {len(done) / seconds:.1f}/s, each {each}")
    print(f"{kind}: load average (1 min) after the run {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--logins", type=int, default=4, help="logins running at once")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the logins run")
    args = parser.parse_args()
    print(machine())
    import fastreg

    print(f"fastreg from {Path(fastreg.__file__).parent}")
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        run(kind, args.logins, args.seconds)


if __name__ == "__main__":
    main()
