"""Shared pieces of the bench scripts: databases, server processes, fixtures made through the services
layer, and two load generators (``wrk`` when installed, else a lean asyncio HTTP/1.1 keep-alive client)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform as host
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "FASTREG_BENCH_POSTGRES_URL",
    os.environ.get("FASTREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
SANDBOX_KEY = "bench-key"


# ---------------------------------------------------------------- machine


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), {host.system()} {host.release()}, Python {host.python_version()}"


# ---------------------------------------------------------------- databases


@contextlib.contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="fastreg-bench-") as tmp:
        yield f"sqlite:///{tmp}/bench.db"


@contextlib.contextmanager
def postgres_database(prefix: str = "fastreg_bench") -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    with sqlite_database() if kind == "sqlite" else postgres_database() as url:
        yield url


def settle_database(url: str, *, timeout: float = 300.0) -> float:
    """After a bulk load, bring the database to the steady state a measurement assumes; returns the seconds it
    took. PostgreSQL: ``VACUUM (ANALYZE)``, then a wait until no autovacuum worker is left (otherwise autovacuum
    starts on the freshly loaded tables while the load runs, on the same CPUs, and the planner's statistics
    change under the prepared statements), as autovacuum keeps a running server's tables. SQLite: the WAL
    checkpointed and truncated, so that the first run does not pay for copying the load's pages back (its planner
    is left without statistics, as fastreg leaves it)."""
    started = time.perf_counter()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        import sqlite3

        with contextlib.closing(sqlite3.connect(str(parsed.database), isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return time.perf_counter() - started
    import psycopg

    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()
            if not busy or not busy[0]:
                break
            time.sleep(1)
    return time.perf_counter() - started


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fastreg_env(url: str, data_dir: str, port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FASTREG_DATABASE_URL=url,
        FASTREG_MODE="sandbox",
        FASTREG_SANDBOX_KEY=SANDBOX_KEY,
        FASTREG_DATA_DIR=data_dir,
        FASTREG_PUBLIC_URL=f"http://127.0.0.1:{port}",
        FASTREG_LOG_LEVEL=os.environ.get("FASTREG_LOG_LEVEL", "INFO"),
    )
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started_in: float = 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL the whole server (with its workers): nothing gets a chance to clean up."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_server(
    target: str,
    env: dict[str, str],
    port: int,
    *,
    workers: int = 1,
    factory: bool = True,
    log_path: Path | None = None,
    timeout: float = 30.0,
) -> Server:
    """Start ``uvicorn target`` in its own process group and wait for ``GET /healthz``."""
    log_path = log_path or Path(tempfile.mkstemp(prefix="fastreg-bench-server-", suffix=".log")[1])
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--workers", str(workers)]
    if factory:
        command.append("--factory")
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    server = Server(process, base_url, log_path)
    deadline = started + timeout
    with httpx.Client(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: see {log_path}\n{log_path.read_text()[-3000:]}")
            try:
                if client.get(base_url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                server.kill()
                raise RuntimeError(f"server did not answer within {timeout} s: see {log_path}")
            time.sleep(0.005)
    server.started_in = time.perf_counter() - started
    return server


def start_fastreg(url: str, data_dir: str, *, workers: int = 1, **env: str) -> Server:
    port = free_port()
    return start_server("fastreg.web.app:create_app", fastreg_env(url, data_dir, port, **env), port, workers=workers)


def migrate(url: str) -> None:
    from fastreg.adapters.db.migrate import upgrade

    upgrade(url)


# ---------------------------------------------------------------- fixtures through the services layer


def bench_platform(url: str, data_dir: str) -> Any:
    from fastreg.platform import build_platform
    from fastreg.settings import Settings

    settings = Settings(
        database_url=url, mode="sandbox", sandbox_key=SANDBOX_KEY, data_dir=Path(data_dir), log_level="WARNING"
    )
    return build_platform(settings)


@dataclass
class Fixture:
    """Accounts made through the services: one component authorized by many OAs."""

    component_appid: str
    component_id: int
    component_token: str
    oas: list[OA] = field(default_factory=list)

    def dealt(self, count: int, per_oa: int) -> list[OA]:
        """The OAs of ``count`` calls, ``per_oa`` at most each, dealt out one OA after another (the first
        ``ceil(count / per_oa)`` OAs, round after round): calls that arrive together are for different OAs, as on
        a platform of many OAs. Taken OA by OA instead, an OA's calls would all be in flight at once and wait on
        its monthly counter's row lock, each until the one before commits: that is ``contention.py``'s case."""
        used = -(-count // per_oa)
        return [self.oas[index % used] for index in range(count)]


@dataclass
class OA:
    appid: str
    admin_wxid: str
    token: str  # the component's authorizer access token for this OA
    secret: str


def make_fixture(platform: Any, oas: int, *, batch: int = 250, callback_url: str | None = None) -> Fixture:
    """One component (made through the services, with its component token, and ``callback_url`` when given) and
    ``oas`` verified OAs of their own principals, each authorized to the component with an authorizer access
    token. The OAs are
    written in batches (one transaction per batch) with one precomputed operator password hash: argon2 per
    OA would dominate the set-up time."""
    from sqlalchemy import select

    from fastreg.adapters import crypto
    from fastreg.adapters.db.models import Component, OfficialAccount, Operator, Principal
    from fastreg.domain import secrets as ids
    from fastreg.services import credentials, tokens
    from fastreg.services.accounts import ALL_PERMISSION_SETS, create_component
    from fastreg.services.authorization import grant_authorization
    from fastreg.services.credentials import CredentialKind

    component = create_component(
        platform, name="Bench component", redirect_domain="tp.example.com", callback_url=callback_url
    )
    with platform.uow(readonly=True) as uow:
        component_id = uow.session.execute(
            select(Component.id).where(Component.appid == component.component_appid)
        ).scalar_one()
    issued = tokens.issue_component_token(
        platform, component.component_appid, component.component_appsecret, component.component_verify_ticket
    )
    fixture = Fixture(component.component_appid, component_id, issued.token)
    password_hash = crypto.hash_password("Bench-password-1")
    tag = secrets.token_hex(4)
    ttl = platform.settings.token_ttl_seconds
    for first in range(0, oas, batch):
        with platform.uow() as uow:
            session, now = uow.session, uow.clock.now()
            for index in range(first, min(oas, first + batch)):
                principal = Principal(name=f"bench principal {tag} {index}", type="enterprise", mp_count=0)
                session.add(principal)
                session.flush()
                appid, original_id = uow.accounts.new_account_ids()
                secret = ids.new_secret()
                admin = ids.new_wxid()
                oa = OfficialAccount(
                    appid=appid,
                    secret_hash=ids.token_hash(secret),
                    original_id=original_id,
                    name=f"Bench OA {index}",
                    principal_id=principal.id,
                    verified=True,
                    verify_expires_at=now.replace(year=now.year + 1),
                    overseas=False,
                    admin_wxid=admin,
                    created_at=now,
                )
                session.add(oa)
                session.flush()
                session.add(
                    Operator(oa_id=oa.id, email=f"op-{appid}@example.com", password_hash=password_hash, wxid=admin)
                )
                grant_authorization(platform, uow, component_id, appid, list(ALL_PERMISSION_SETS), 3600)
                token = credentials.issue(
                    uow.credentials, now, CredentialKind.AUTHORIZER_TOKEN, appid, ttl, component_id=component_id
                )
                fixture.oas.append(OA(appid, admin, token, secret))
            uow.commit()
    return fixture


def issue_ticket(platform: Any, fixture: Fixture, oa: OA) -> str:
    from fastreg.services import confirmations
    from fastreg.services.fastregister import open_auth_page

    page = open_auth_page(platform, oa.appid, fixture.component_appid, True, "https://tp.example.com/done")
    answered = confirmations.answer(platform, page.id, oa.admin_wxid, "confirm")
    assert answered.redirect_url is not None
    return parse_qs(urlparse(answered.redirect_url).query)["ticket"][0]


def issue_tickets_in_batches(platform: Any, fixture: Fixture, oas: Sequence[OA], *, batch: int = 1000) -> list[str]:
    """A fastregister ticket for each of ``oas`` (an OA may come more than once): the credential the auth page's
    confirmation issues (``services.fastregister.on_auth_answered``: same kind, data and time to live), written
    ``batch`` at a time in one executemany: tens of thousands in seconds instead of minutes of confirmations."""
    from datetime import timedelta

    from fastreg.adapters.db.statements import INSERT_CREDENTIAL
    from fastreg.domain import secrets as ids
    from fastreg.services.credentials import CredentialKind

    tickets: list[str] = []
    ttl = timedelta(seconds=platform.settings.ticket_ttl_seconds)
    data = {"copy_wx_verify": True, "confirmation": None, "redirect_uri": "https://tp.example.com/done"}
    for first in range(0, len(oas), batch):
        with platform.uow() as uow:
            now, rows = uow.clock.now(), []
            for oa in oas[first : first + batch]:
                ticket = ids.new_token(24)
                tickets.append(ticket)
                rows.append(
                    {
                        "token_hash": ids.token_hash(ticket),
                        "kind": CredentialKind.TICKET.value,
                        "subject": oa.appid,
                        "component_id": fixture.component_id,
                        "data": data,
                        "issued_at": now,
                        "expires_at": now + ttl,
                        "used_at": None,
                    }
                )
            uow.conn.execute(INSERT_CREDENTIAL, rows)
            uow.commit()
    return tickets


def register_history(platform: Any, count: int = 2000) -> None:
    """``count`` fast registrations through the services, by OAs of their own (five each), so that the tables a
    registration writes and reads hold rows before a measurement, as a platform's do once it has run: on a fresh
    database PostgreSQL plans the hot path's prepared statements for empty tables (a sequential scan of
    ``registrations`` for the pending check) and keeps those plans while the tables grow under the load, until
    autovacuum analyzes them again. Call :func:`settle_database` afterwards."""
    from fastreg.services.fastregister import fastregister_with_token

    fixture = make_fixture(platform, -(-count // 5))
    oas = fixture.dealt(count, 5)
    for oa, ticket in zip(oas, issue_tickets_in_batches(platform, fixture, oas), strict=True):
        fastregister_with_token(platform, oa.token, ticket)


def open_page(platform: Any, fixture: Fixture, oa: OA) -> str:
    """A fastregisterauth confirmation for the OA admin (not yet answered); its id."""
    from fastreg.services.fastregister import open_auth_page

    page = open_auth_page(platform, oa.appid, fixture.component_appid, True, "https://tp.example.com/done")
    confirmation_id: str = page.id
    return confirmation_id


# ---------------------------------------------------------------- load generation


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class LoadResult:
    requests: int
    ok: int
    seconds: float
    latencies: list[float]
    bodies: list[bytes] = field(default_factory=list)
    tool: str = "asyncio"

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _request_bytes(call: Call, host_header: str) -> bytes:
    lines = [f"{call.method} {call.path} HTTP/1.1", f"Host: {host_header}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in call.headers]
    if call.body or call.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(call.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + call.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length = 0
    chunked = False
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size + 2)
        return status, body
    return status, await reader.readexactly(length) if length else b""


def is_ok(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    if body.startswith(b"{") and b'"errcode"' in body:
        try:
            return json.loads(body).get("errcode") == 0
        except ValueError:
            return False
    return True


async def _run_calls(
    base_url: str, calls: Sequence[Call], connections: int, keep_bodies: bool, duration: float | None
) -> LoadResult:
    parsed = urlparse(base_url)
    host_name, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    host_header = f"{host_name}:{port}"
    next_index = 0
    ok = 0
    latencies: list[float] = []
    bodies: list[bytes] = [b""] * len(calls) if keep_bodies else []
    stop_at = None

    async def worker() -> None:
        nonlocal next_index, ok
        reader, writer = await asyncio.open_connection(host_name, port)
        try:
            while True:
                if stop_at is not None and time.perf_counter() >= stop_at:
                    return
                index = next_index
                if index >= len(calls):
                    return
                next_index += 1
                started = time.perf_counter()
                try:
                    writer.write(_request_bytes(calls[index], host_header))
                    status, body = await _read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError):
                    latencies.append(time.perf_counter() - started)
                    writer.close()
                    reader, writer = await asyncio.open_connection(host_name, port)
                    continue
                latencies.append(time.perf_counter() - started)
                if is_ok(status, body):
                    ok += 1
                if keep_bodies:
                    bodies[index] = body
        finally:
            writer.close()

    started = time.perf_counter()
    if duration is not None:
        stop_at = started + duration
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), ok, elapsed, latencies, bodies)


def run_calls(
    base_url: str,
    calls: Sequence[Call],
    *,
    connections: int = 32,
    keep_bodies: bool = False,
    duration: float | None = None,
) -> LoadResult:
    """Send ``calls`` (each once, in order) over ``connections`` keep-alive connections; stop early after
    ``duration`` seconds when given."""
    return asyncio.run(_run_calls(base_url, calls, connections, keep_bodies, duration))


WRK_SCRIPT = r"""
-- Each wrk thread sends its share of the calls listed in a file ("METHOD\tPATH\tBODY" per line), each once.
local calls = {}
thread_index = thread_index or 0
local thread_count = 1
local next_call = 0
ok_count, bad_count = 0, 0
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_count = tonumber(args[2])
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(calls, {method, path, body})
  end
  next_call = thread_index + 1
end

function request()
  local call = calls[next_call]
  if call == nil then
    call = calls[1]
    bad_count = bad_count + 1000000  -- ran out of calls: marks the run as invalid
  end
  next_call = next_call + thread_count
  local headers = {}
  if call[3] ~= "" then headers["Content-Length"] = tostring(#call[3]) end
  return wrk.format(call[1], call[2], headers, call[3])
end

function response(status, headers, body)
  if status == 200 and (body:find('"errcode":0', 1, true) or not body:find('"errcode"', 1, true)) then
    ok_count = ok_count + 1
  else
    bad_count = bad_count + 1
  end
end

function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("ok_count")
    bad = bad + thread:get("bad_count")
  end
  io.write(string.format("FASTREG %d %d %d %.6f %.6f %.6f\n", summary.requests, ok, bad,
    summary.duration / 1e6, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    base_url: str, calls: Sequence[Call], *, connections: int = 32, duration: float = 5.0, threads: int = 2
) -> LoadResult:
    """``wrk`` for ``duration`` seconds over the listed calls (each used at most once). The result counts
    every answered request; ``ok`` those with HTTP 200 and errcode 0 (or no errcode)."""
    with tempfile.TemporaryDirectory(prefix="fastreg-wrk-") as tmp:
        script = Path(tmp) / "calls.lua"
        script.write_text(WRK_SCRIPT)
        listing = Path(tmp) / "calls.txt"
        with listing.open("w") as handle:
            for call in calls:
                handle.write(f"{call.method}\t{call.path}\t{call.body.decode()}\n")
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "-s",
            str(script),
            base_url,
            "--",
            str(listing),
            str(threads),
        ]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(f"wrk failed: {finished.stdout}\n{finished.stderr}")
        output = finished.stdout
    line = next(line for line in output.splitlines() if line.startswith("FASTREG "))
    _, requests, ok, bad, seconds, p50, p99 = line.split()
    if int(bad) >= 1_000_000:
        raise RuntimeError("wrk ran out of prepared calls: prepare more or shorten the run")
    return LoadResult(int(requests), int(ok), float(seconds), [float(p50), float(p99)], tool="wrk")


def load(
    base_url: str,
    calls: Sequence[Call],
    *,
    tool: str,
    connections: int = 32,
    duration: float = 5.0,
) -> LoadResult:
    if tool == "wrk":
        return run_wrk(base_url, calls, connections=connections, duration=duration)
    return run_calls(base_url, calls, connections=connections, duration=duration)


def default_tool() -> str:
    return "wrk" if have_wrk() else "asyncio"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
