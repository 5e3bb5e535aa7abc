"""Fast by default in an integrator's tests: accounts the sandbox creates get a cheap password hash (and still
log in), production and console accounts keep the strong one; a push is delivered as soon as it is committed,
not at the worker's next poll; the callback fixture stops at once."""

from __future__ import annotations

import contextlib
import re
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import select

from fastreg.adapters.db.models import Operator
from fastreg.platform import Platform
from fastreg.services.accounts import create_official_account
from fastreg.settings import Settings
from fastreg.testing import CallbackServer, LiveServer, SandboxClient, run_live_server
from tests.pg import temporary_database

STRONG = extract_parameters(PasswordHasher().hash("x"))
KEY = "speed-test-key"


def operator_hash(platform: Platform, email: str) -> str:
    with platform.uow(readonly=True) as uow:
        stored: str = uow.session.execute(select(Operator.password_hash).where(Operator.email == email)).scalar_one()
        return stored


def test_a_sandbox_account_has_a_cheap_hash_and_its_operator_still_logs_in(
    live: LiveServer, sandbox: SandboxClient
) -> None:
    oa = sandbox.create_official_account(
        name="快号", principal_name="快号公司", principal_type="enterprise", operator_password="Quick2026pass"
    )

    parameters = extract_parameters(operator_hash(live.platform, oa["operator_email"]))
    assert (parameters.time_cost, parameters.memory_cost) < (STRONG.time_cost, STRONG.memory_cost)
    assert parameters.memory_cost <= 64  # KiB, against 64 MiB for the strong parameters

    with httpx.Client(base_url=live.base_url, timeout=30) as browser:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert csrf is not None
        form = {"email": oa["operator_email"], "password": "Quick2026pass", "csrf_token": csrf.group(1), "next": ""}
        logged_in = browser.post("/login", data=form)
        assert (logged_in.status_code, logged_in.headers["location"]) == (303, "/oa")
    with httpx.Client(base_url=live.base_url, timeout=30, follow_redirects=True) as stranger:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', stranger.get("/login").text)
        assert csrf is not None
        wrong = {**form, "password": "Wrong2026pass", "csrf_token": csrf.group(1)}
        refused = stranger.post("/login", data=wrong)  # redirected back to the login page, which says why
        assert refused.status_code == 400 and refused.url.path == "/login"


@pytest.mark.parametrize("mode", ["sandbox", "production"])
def test_accounts_made_elsewhere_keep_the_strong_hash(platform: Platform, mode: str) -> None:
    """The CLI and the demo create accounts without asking for the cheap hash; asking for it outside the
    sandbox gets the strong one anyway."""
    platform.settings = platform.settings.model_copy(update={"mode": mode})
    default = create_official_account(platform, name="甲", principal_name="甲公司", principal_type="enterprise")
    asked = create_official_account(
        platform, name="乙", principal_name="乙公司", principal_type="enterprise", sandbox_only_cheap_password_hash=True
    )
    assert extract_parameters(operator_hash(platform, default.operator_email)) == STRONG
    cheap = extract_parameters(operator_hash(platform, asked.operator_email)) != STRONG
    assert cheap is (mode == "sandbox")


@pytest.fixture(params=["sqlite", "postgres"])
def slow_polling_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own (no other worker shares its push queue) whose push worker polls only every 30 s."""
    database = (
        contextlib.nullcontext(f"sqlite:///{tmp_path / 'pushes.db'}")
        if request.param == "sqlite"
        else temporary_database("fastreg_pushes")
    )
    with database as url:
        settings = Settings(database_url=url, data_dir=tmp_path, sandbox_key=KEY, push_poll_seconds=30.0)
        server, stop = run_live_server(settings)
        yield server
        stop()


def test_a_push_is_delivered_as_soon_as_it_is_committed(slow_polling_server: LiveServer) -> None:
    callback = CallbackServer()
    client = SandboxClient(slow_polling_server.base_url, KEY)
    try:
        component = client.create_component(name="推送", redirect_domain="example.com", callback_url=callback.url)
        time.sleep(0.3)  # the worker's first pass (at its start) is over: from now on it waits to be woken
        latencies = []
        for count in range(1, 9):
            started = time.perf_counter()
            client.issue_verify_ticket(component["component_appid"])
            callback.wait_for(count, timeout=10)
            latencies.append(time.perf_counter() - started)
    finally:
        client.close()
        callback.close()
    # Polling, even every half second, would average a quarter of a second; the worker is woken instead.
    assert max(latencies) < 5 and statistics.median(latencies) < 0.12, latencies


def test_the_callback_server_stops_at_once() -> None:
    durations = []
    for _ in range(5):
        server = CallbackServer()
        time.sleep(0.02)
        started = time.perf_counter()
        server.close()
        durations.append(time.perf_counter() - started)
    assert max(durations) < 0.2, durations  # serve_forever's own shutdown waits up to half a second
    with pytest.raises(httpx.ConnectError):  # and it is gone
        httpx.post(server.url, content=b"x", timeout=1)
