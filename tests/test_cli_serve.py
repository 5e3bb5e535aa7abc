"""``fastreg serve`` as a user runs it: a subprocess on a free port and a fresh database. It migrates, seeds
the demo data, prints the console URL, the demo logins and the sandbox key, and answers requests (also with
several worker processes)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fastreg.services import demo
from fastreg.testing import free_port
from tests.pg import temporary_database

POSTGRES_URL = os.environ.get("FASTREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fastreg_command() -> list[str]:
    script = Path(sys.executable).with_name("fastreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastreg.cli"]


@contextmanager
def serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, host: str = "127.0.0.1"
) -> Iterator[tuple[str, float, Path]]:
    """Start ``fastreg serve``; yields (base URL, seconds until /healthz answered, stdout file)."""
    port = free_port()
    out = tmp_path / f"serve-{port}.out"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FASTREG_")}
    environment.update({"FASTREG_DATA_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1", **(env or {})})
    with out.open("wb") as sink:
        started = time.monotonic()
        process = subprocess.Popen(
            [*fastreg_command(), "serve", "--host", host, "--port", str(port), *args],
            cwd=tmp_path,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        try:
            deadline = started + 60
            while True:
                assert process.poll() is None, out.read_text()
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.05)
            yield base, time.monotonic() - started, out
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def printed_key(output: str) -> str:
    match = re.search(r"Sandbox key:\s+(\S+)", output)
    assert match, output
    return match.group(1)


def test_serve_migrates_seeds_prints_and_answers(tmp_path: Path) -> None:
    db = tmp_path / "data" / "fastreg.db"
    with serving(tmp_path, "--db", f"sqlite:///{db}") as (base, seconds, out):
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        output = out.read_text()
        key = printed_key(output)
        assert key == (tmp_path / "var" / "sandbox_key").read_text().strip()
        assert f"{base}/login" in output
        for spec in demo.DEMO_OFFICIAL_ACCOUNTS:
            assert spec.operator_email in output
        assert demo.DEMO_PASSWORD in output
        api = httpx.Client(base_url=base + "/sandbox/v1", headers={"X-Sandbox-Key": key})
        enterprise = api.get(f"/official-accounts/{demo.DEMO_OFFICIAL_ACCOUNTS[0].appid}")
        assert enterprise.status_code == 200 and enterprise.json()["quota"]["limit"] == 5
        assert api.get("/clock").status_code == 200
        assert httpx.get(base + "/sandbox/v1/clock", headers={"X-Sandbox-Key": "wrong"}).status_code == 401
    assert db.exists()
    print(f"fastreg serve: first answered request {seconds:.2f} s after the process started")

    # A second start on the same database keeps the data and the key, and does not seed twice.
    with serving(tmp_path, "--db", f"sqlite:///{db}") as (base, _, out):
        assert printed_key(out.read_text()) == key
        created = httpx.post(
            base + "/sandbox/v1/official-accounts",
            headers={"X-Sandbox-Key": key},
            json={"name": "新号", "principal_name": "新公司", "principal_type": "enterprise"},
        )
        assert created.status_code == 201


def test_serve_with_a_configured_key_and_two_workers(tmp_path: Path) -> None:
    env = {"FASTREG_SANDBOX_KEY": "configured-key", "FASTREG_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    with serving(tmp_path, "--workers", "2", env=env) as (base, _, out):
        assert printed_key(out.read_text()) == "configured-key"
        api = httpx.Client(base_url=base + "/sandbox/v1", headers={"X-Sandbox-Key": "configured-key"})
        # Every worker sees the same clock and data: both live in the database.
        assert api.put("/clock", json={"now": "2026-11-30T16:00:00Z"}).status_code == 200
        for _ in range(20):
            assert api.get("/clock").json() == {"now": "2026-11-30T16:00:00Z", "frozen": True}
        assert not (tmp_path / "var" / "sandbox_key").exists()


def test_serve_in_production_mode_has_no_sandbox_and_no_demo(tmp_path: Path) -> None:
    env = {"FASTREG_MODE": "production", "FASTREG_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    with serving(tmp_path, env=env) as (base, _, out):
        output = out.read_text()
        assert "Sandbox key" not in output and demo.DEMO_PASSWORD not in output
        assert httpx.get(base + "/sandbox/v1/clock").status_code == 404
        assert httpx.get(base + "/healthz").status_code == 200


@pytest.fixture
def postgres_database() -> Iterator[str]:
    with temporary_database("fastreg_serve") as url:
        yield url


def test_serve_with_three_workers_on_postgresql(tmp_path: Path, postgres_database: str) -> None:
    """Workers share nothing in memory: whichever worker answers, it sees the same accounts and clock."""
    env = {"FASTREG_SANDBOX_KEY": "pg-key"}
    with serving(tmp_path, "--workers", "3", "--db", postgres_database, env=env) as (base, _, out):
        assert demo.DEMO_OFFICIAL_ACCOUNTS[0].operator_email in out.read_text()
        api = httpx.Client(base_url=base + "/sandbox/v1", headers={"X-Sandbox-Key": "pg-key"})
        assert api.put("/clock", json={"now": "2026-11-30T15:59:59Z"}).status_code == 200
        appids = []
        for n in range(12):
            created = api.post(
                "/official-accounts",
                json={"name": f"号{n}", "principal_name": f"主体{n}", "principal_type": "enterprise"},
            )
            assert created.status_code == 201
            appids.append(created.json()["appid"])
        for appid in appids * 2:
            assert api.get(f"/official-accounts/{appid}").json()["quota"]["month"] == "2026-11"
        assert api.put("/clock", json={"advance_seconds": 1}).status_code == 200
        for appid in appids * 2:
            assert api.get(f"/official-accounts/{appid}").json()["quota"]["month"] == "2026-12"


def test_serve_on_a_busy_port_fails_before_the_banner(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FASTREG_")}
        done = subprocess.run(
            [*fastreg_command(), "serve", "--port", str(port), "--db", f"sqlite:///{db}"],
            cwd=tmp_path,
            env=environment | {"FASTREG_DATA_DIR": str(tmp_path / "var")},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""  # no banner, no demo logins, no key
    assert done.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use (another fastreg or server?); "
        "choose another with --port"
    )
    assert "Traceback" not in done.stderr
    assert not db.exists()  # nothing migrated either


def test_serve_prints_the_address_it_serves_an_ipv6_one_in_brackets(tmp_path: Path) -> None:
    with serving(tmp_path, "--db", f"sqlite:///{tmp_path / 'v6.db'}", host="::1") as (base, _, out):
        assert base.startswith("http://[::1]:")
        output = out.read_text()
        assert f"Console:      {base}/login" in output and f"(console {base}/login," in output
        key = printed_key(output)
        page = httpx.get(base + "/sandbox/v1/clock", headers={"X-Sandbox-Key": key})
        assert page.status_code == 200
