"""Behind TLS (a public URL in https) the console's cookies are ``Secure``; the secrets a server generates in
its data directory (the secret key, the sandbox key) are in files only their owner can read (0600). A server
of its own on each database, started with neither key set."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from contextlib import ExitStack
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from fastreg.platform import sandbox_key
from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.pg import temporary_database
from tests.production import csrf_of

PASSWORD = "Operator2026"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def https_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp(f"fastreg-https-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'fastreg.db'}"
        else:
            url = stack.enter_context(temporary_database("fastreg_https"))
        live, stop = run_live_server(
            Settings(database_url=url, data_dir=data_dir), public_url="https://fastreg.example.com"
        )
        stack.callback(stop)
        yield live


def cookies_set(response: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        found.update({name: cookie for name in cookie})
    return found


def test_generated_secret_files_are_readable_by_their_owner_only(https_server: LiveServer) -> None:
    data_dir = https_server.settings.data_dir
    # The first sandbox call makes the server generate its sandbox key (here refused: a wrong key).
    refused = httpx.get(https_server.base_url + "/sandbox/v1/clock", headers={"X-Sandbox-Key": "wrong"})
    assert refused.status_code == 401
    for name in ("secret_key", "sandbox_key"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name


def test_console_cookies_are_secure_when_the_public_url_is_https(https_server: LiveServer) -> None:
    with SandboxClient(https_server.base_url, sandbox_key(https_server.settings)) as sandbox:
        created = sandbox.create_official_account(
            name="加密公众号",
            principal_name="加密企业有限公司",
            principal_type="enterprise",
            operator_password=PASSWORD,
        )
    with httpx.Client(base_url=https_server.base_url, timeout=30) as browser:
        page = browser.get("/login")
        anon = cookies_set(page)
        assert anon and all(cookie[name]["secure"] for name, cookie in anon.items())
        # A browser sends Secure cookies back over https only: the TLS proxy in front of the server is left out here.
        sent_back = "; ".join(f"{name}={cookie[name].value}" for name, cookie in anon.items())
        logged_in = browser.post(
            "/login",
            data={"csrf_token": csrf_of(page.text), "email": created["operator_email"], "password": PASSWORD},
            headers={"Cookie": sent_back},
        )
        assert logged_in.status_code == 303 and logged_in.headers["location"] == "/oa"
        session = cookies_set(logged_in)
        assert session and all(cookie[name]["secure"] for name, cookie in session.items())
