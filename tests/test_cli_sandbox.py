"""``fastreg sandbox ...`` as a user runs it: the real command in a subprocess, talking over HTTP to a live
server (SQLite and PostgreSQL), printing JSON; refusals print the server's error code and exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fastreg.testing import LiveServer, SandboxClient, free_port, scan_url_from_page
from tests.api.world import REDIRECT_DOMAIN, World


def fastreg_command() -> list[str]:
    script = Path(sys.executable).with_name("fastreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "fastreg.cli"]


def clean_environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FASTREG_")}
    return environment | extra


def sandbox_cli(live: LiveServer, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """``fastreg sandbox ARGS`` pointed at ``live`` through the environment, as a shell user would."""
    environment = clean_environment(FASTREG_URL=live.base_url, FASTREG_SANDBOX_KEY=live.sandbox_key)
    done = subprocess.run(
        [*fastreg_command(), "sandbox", *args], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, (done.stdout, done.stderr)
    return done


def answer(live: LiveServer, *args: str) -> Any:
    return json.loads(sandbox_cli(live, *args).stdout)


def test_a_fast_registration_driven_from_the_command_line(live: LiveServer, world: World) -> None:
    assert answer(live, "reset")["status"] == "ok"
    frozen = answer(live, "clock", "set", "2026-11-30T16:00:00Z")
    assert frozen == {"now": "2026-11-30T16:00:00Z", "frozen": True}
    assert answer(live, "clock", "advance", "2h") == {"now": "2026-11-30T18:00:00Z", "frozen": True}
    assert answer(live, "clock") == answer(live, "clock", "get") == {"now": "2026-11-30T18:00:00Z", "frozen": True}

    created = answer(live, "oa", "create", "--name", "命令行公众号", "--principal-name", "命令行有限公司")
    assert set(created) >= {"appid", "secret", "original_id", "admin_wxid", "operator_email", "operator_password"}
    shown = answer(live, "oa", "show", created["appid"])
    assert shown["name"] == "命令行公众号"  # printed as UTF-8, not \u escapes
    assert "命令行公众号" in sandbox_cli(live, "oa", "show", created["appid"]).stdout
    assert shown["quota"]["used"] == 0 and shown["principal"]["name"] == "命令行有限公司"

    component = answer(live, "component", "create", "--name", "命令行平台", "--redirect-domain", REDIRECT_DOMAIN)
    first_ticket = component["component_verify_ticket"]
    fresh = answer(live, "verify-ticket", component["component_appid"])["component_verify_ticket"]
    assert fresh and fresh != first_ticket
    code = answer(live, "authorize", component["component_appid"], created["appid"])
    assert code["authorization_code"] and code["expires_in"] == 3600

    # The OA's admin scans the fastregisterauth page's QR code, found through `confirmations`.
    oa = world.oa(admin_wxid="wxid_cli_admin")
    page = world.auth_page(world.component(token=False), oa)
    url = scan_url_from_page(page)
    [waiting] = answer(live, "confirmations", "--wxid", "wxid_cli_admin")
    assert waiting["url"] == url and waiting["account_appid"] == oa.appid
    scanned = answer(live, "scan", url, "--wxid", "wxid_cli_admin")
    assert scanned["status"] == "confirmed" and "ticket=" in scanned["redirect_url"]
    assert answer(live, "confirmations", "--wxid", "wxid_cli_admin") == []

    assert answer(live, "mail", "--to", "nobody@example.com") == []
    assert isinstance(answer(live, "mail"), list)
    assert answer(live, "clock", "real")["frozen"] is False


def test_faults_from_the_command_line(live: LiveServer, sandbox: SandboxClient) -> None:
    added = answer(live, "faults", "add", "/cgi-bin/account/fastregister", "--errcode", "-1", "--times", "2")
    [listed] = answer(live, "faults", "list")
    assert listed["id"] == added["id"] and listed["errcode"] == -1 and listed["times"] == 2
    assert sandbox.faults() == [listed]  # really on the server
    answer(live, "faults", "add", "/cgi-bin/account/fastregister", "--delay-ms", "10")
    answer(live, "faults", "clear", added["id"])
    assert [fault["delay_ms"] for fault in sandbox.faults()] == [10]
    answer(live, "faults", "clear")
    assert sandbox.faults() == []


def test_refusals_print_the_servers_error_and_exit_1(live: LiveServer, sandbox: SandboxClient) -> None:
    missing = sandbox_cli(live, "oa", "show", "wx0000000000000000", code=1)
    assert missing.stdout == ""
    assert missing.stderr.startswith("error: not_found: ") and "(HTTP 404)" in missing.stderr
    bad = sandbox_cli(live, "faults", "add", "/cgi-bin/no/such/route", "--errcode", "-1", code=1)
    assert "error: invalid_request: " in bad.stderr
    nobody = sandbox_cli(live, "scan", "http://127.0.0.1/nothing", "--wxid", "wxid_x", code=1)
    assert nobody.stderr.startswith("error: ")
    assert sandbox.faults() == []  # nothing changed


def test_url_and_key_options_and_a_wrong_key(live: LiveServer, sandbox: SandboxClient) -> None:
    run = [*fastreg_command(), "sandbox", "--url", live.base_url]
    environment = clean_environment()
    done = subprocess.run([*run, "--key", live.sandbox_key, "clock"], env=environment, capture_output=True, text=True)
    assert done.returncode == 0 and set(json.loads(done.stdout)) == {"now", "frozen"}

    wrong = subprocess.run([*run, "--key", "wrong", "reset"], env=environment, capture_output=True, text=True)
    assert wrong.returncode == 1 and wrong.stderr.startswith("error: unauthorized: missing or wrong X-Sandbox-Key")
    keyless = subprocess.run([*run, "reset"], env=environment, capture_output=True, text=True)
    assert keyless.returncode == 1 and "FASTREG_SANDBOX_KEY" in keyless.stderr

    nowhere = f"http://127.0.0.1:{free_port()}"
    environment |= {"FASTREG_URL": nowhere, "FASTREG_SANDBOX_KEY": "k"}
    down = subprocess.run([*fastreg_command(), "sandbox", "reset"], env=environment, capture_output=True, text=True)
    assert down.returncode == 1 and f"no fastreg server answers at {nowhere}" in down.stderr


def test_sandbox_commands_start_quickly() -> None:
    """``fastreg sandbox --help`` imports neither the database nor the web stack, nor rich or pydantic (its help
    is click's plain one). Wall time depends on the machine's load, CPU time much less: about 0.12 s of CPU on a
    machine at load 13, 0.4 s with Typer's rich help, 1.1-1.3 s when ``fastreg`` imported everything. Printed,
    not asserted below a bar the load decides."""
    import resource

    walls, cpus = [], []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([*fastreg_command(), "sandbox", "--help"], capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        assert done.returncode == 0 and "verify-ticket" in done.stdout
    print(f"fastreg sandbox --help: best of 5 {min(walls):.3f} s wall, {min(cpus):.3f} s CPU")
    helped = imports_of(["--help"], (*HEAVY, "rich", "pydantic"), clean_environment())
    assert helped.returncode == 0 and "Usage: fastreg sandbox" in helped.stdout
    assert "LOADED []" in helped.stderr, helped.stderr


HEAVY = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "httpx", "pydantic_settings", "alembic", "fastreg.services")
HEAVY += ("fastreg.adapters", "fastreg.web", "fastreg.settings", "fastreg.sandbox_client")


def imports_of(
    args: list[str], heavy: tuple[str, ...], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``fastreg sandbox ARGS`` run in a Python that prints, on its way out, which of the ``heavy`` modules it
    imported (``LOADED [...]`` on stderr)."""
    report = (
        "import atexit, sys\n"
        f"heavy = {heavy!r}\n"
        "loaded = lambda: sorted({m for m in sys.modules if m.startswith(heavy)})\n"
        "atexit.register(lambda: print('LOADED', loaded(), file=sys.stderr))\n"
        "sys.argv = ['fastreg', 'sandbox', *sys.argv[1:]]\n"
        "from fastreg.cli import app\n"
        "app()\n"
    )
    return subprocess.run([sys.executable, "-c", report, *args], env=environment, capture_output=True, text=True)


def test_a_sandbox_command_imports_neither_the_server_nor_httpx(live: LiveServer, sandbox: SandboxClient) -> None:
    """A real ``fastreg sandbox`` command, run to the end (its answer printed), has imported none of the server's
    stack, the database's or httpx (whose import alone took longer than the rest of a command): the calls go
    through ``urllib.request``."""
    environment = clean_environment(FASTREG_URL=live.base_url, FASTREG_SANDBOX_KEY=live.sandbox_key)
    for args in (["clock"], ["oa", "show", "wx0000000000000000"], ["faults", "list"]):
        done = imports_of(args, HEAVY, environment)
        assert "LOADED []" in done.stderr, (args, done.stderr)
        assert done.returncode == (1 if args[0] == "oa" else 0), done.stderr
    assert json.loads(done.stdout) == []
