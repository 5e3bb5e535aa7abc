"""Races between the two workers of ``fastreg serve --workers 2``, on SQLite and on PostgreSQL: requests sent at
the same moment (a barrier releases them together) still obey the rules a single request obeys.

- 授权互斥: two components' consent confirmations for one OA answered at once leave exactly one of them
  holding the fast-registration permission set.
- The login lockout counts concurrent failures exactly: of many wrong passwords sent at once for one email,
  exactly ``login_max_failures`` are tried, the rest are refused as locked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx
import pytest

from fastreg.domain.rules import FASTREGISTER_PERMISSION_SET
from fastreg.testing import LiveServer, SandboxClient, scan_url_from_page
from tests.api.world import REDIRECT_URI, Component, World
from tests.e2e.servers import two_workers
from tests.pg import temporary_database
from tests.production import csrf_of

KEY = "races-key"
ROUNDS = 20
T = TypeVar("T")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp(f"fastreg-races-{request.param}")
    if request.param == "sqlite":
        with two_workers(f"sqlite:///{data_dir / 'fastreg.db'}", data_dir, KEY) as base:
            yield base
    else:
        with temporary_database("fastreg_races") as url, two_workers(url, data_dir, KEY) as base:
            yield base


@pytest.fixture
def world(server: str) -> Iterator[World]:
    sandbox = SandboxClient(server, KEY)
    sandbox.reset()
    with httpx.Client(base_url=server, timeout=60) as client:
        yield World(LiveServer(server, KEY, None, None), sandbox, client)  # type: ignore[arg-type]
    sandbox.close()


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call on its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def consent_url(world: World, component: Component, oa_appid: str) -> str:
    """The confirmation URL of the componentloginpage the component opens for the OA."""
    code = world.post(
        "/cgi-bin/component/api_create_preauthcode",
        {"component_appid": component.appid},
        component_access_token=component.access_token,
    )["pre_auth_code"]
    params = {
        "component_appid": component.appid,
        "pre_auth_code": code,
        "redirect_uri": REDIRECT_URI,
        "auth_type": 3,
        "biz_appid": oa_appid,
    }
    page = world.api.get("/cgi-bin/componentloginpage", params=params)
    assert page.status_code == 200
    return scan_url_from_page(page.text)


def holds_fastregister_set(world: World, component: Component, oa_appid: str) -> bool:
    answer = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": component.appid, "authorizer_appid": oa_appid},
        component_access_token=component.access_token,
    )
    ids = [entry["funcscope_category"]["id"] for entry in answer["authorization_info"]["func_info"]]
    return FASTREGISTER_PERMISSION_SET in ids


def test_two_consents_answered_at_once_leave_one_holder_of_the_fastregister_set(world: World) -> None:
    components = [world.component(), world.component()]
    broken = []
    for round_ in range(ROUNDS):
        oa = world.oa()
        urls = [consent_url(world, component, oa.appid) for component in components]

        def confirm(url: str, admin: str = oa.admin_wxid) -> Callable[[], str]:
            return lambda: str(world.sandbox.scan(url, admin, "confirm")["status"])

        assert at_once([confirm(url) for url in urls]) == ["confirmed", "confirmed"]
        holders = [holds_fastregister_set(world, component, oa.appid) for component in components]
        if holders.count(True) != 1:
            broken.append((round_, holders))
    assert broken == []


def login_attempt(base: str, email: str) -> Callable[[], str]:
    """A browser of its own posting a wrong password (prepared now, posted when called): the refusal shown."""
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=True)
    token = csrf_of(client.get("/login").text)

    def post() -> str:
        try:
            page = client.post("/login", data={"csrf_token": token, "email": email, "password": "Wrong-pass-9"})
        finally:
            client.close()
        if "登录失败次数过多" in page.text:
            return "locked"
        assert "邮箱或密码错误" in page.text, page.text
        return "wrong"

    return post


def test_wrong_passwords_sent_at_once_are_counted_exactly(world: World, server: str) -> None:
    attempts = 10
    broken = []
    for round_ in range(ROUNDS):
        created = world.sandbox.create_official_account(
            name=f"并发锁定{round_}",
            principal_name=f"并发锁定{round_}有限公司",
            principal_type="enterprise",
            operator_password="Operator2026",
        )
        outcomes = at_once([login_attempt(server, created["operator_email"]) for _ in range(attempts)])
        failed = [event for event in world.sandbox.audit(created["appid"]) if event["kind"] == "login_failed"]
        if outcomes.count("wrong") != 5 or len(failed) != 5:
            broken.append((round_, outcomes.count("wrong"), len(failed)))
    assert broken == []
