"""``fastreg serve --workers 2`` on a shared PostgreSQL: the Open API behaves as one server. Every push is
delivered exactly once although each worker runs a push worker, a ticket used concurrently across workers
registers once, and tokens issued by one worker are honoured by the other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from fastreg.testing import CallbackServer, LiveServer, SandboxClient
from tests.api.world import World
from tests.e2e.servers import two_workers as serve_two_workers
from tests.pg import temporary_database

KEY = "multiworker-key"


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        temporary_database("fastreg_mw") as url,
        serve_two_workers(url, tmp_path_factory.mktemp("fastreg-mw"), KEY) as base,
    ):
        yield base


def test_two_workers_behave_as_one_server(two_workers: str) -> None:
    base = two_workers
    sandbox = SandboxClient(base, KEY)
    sandbox.reset()
    callback = CallbackServer()
    live = LiveServer(base, KEY, None, None)  # type: ignore[arg-type]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            world = World(live, sandbox, client)
            component = world.component(callback_url=callback.url)
            oa = world.oa()
            token = world.authorize(component, oa)
            callback.wait_for(1)  # the ``authorized`` push of the authorization
            callback.clear()

            # Each push is delivered once, although both workers poll the queue.
            tickets = [sandbox.issue_verify_ticket(component.appid) for _ in range(10)]
            time.sleep(1.5)
            pushes = callback.wait_for(10)  # the ten tickets
            time.sleep(1.5)
            assert len(callback.pushes) == 10
            bodies = {push.body for push in pushes}
            assert len(bodies) == 10
            from fastreg.testing import wechatpy_component

            client_wechatpy = wechatpy_component(
                base, component.appid, component.secret, component.token, component.encoding_aes_key
            )
            client_wechatpy.session.set("component_verify_ticket", tickets[-1])
            seen = [p.parse(client_wechatpy) for p in pushes]
            assert sorted(m.verify_ticket for m in seen if m.type == "component_verify_ticket") == sorted(tickets)

            # A ticket used concurrently through both workers registers exactly once.
            ticket = world.ticket(component, oa)

            def call(_: int) -> int:
                with httpx.Client(base_url=base, timeout=30) as each:
                    answer = each.post(
                        "/cgi-bin/account/fastregister",
                        params={"access_token": token},
                        content=f'{{"ticket":"{ticket}"}}',
                    )
                    return int(answer.json()["errcode"])

            with ThreadPoolExecutor(12) as pool:
                codes = list(pool.map(call, range(12)))
            assert sorted(codes) == [0] + [61058] * 11
            state = sandbox.official_account(oa.appid)
            assert state["quota"]["used"] == 1 and len(state["linked_mini_programs"]) == 1

            # Tokens issued by either worker work on both (many calls spread over the workers).
            component.verify_ticket = tickets[-1]
            fresh = [world.component_token(component) for _ in range(6)]
            for value in fresh:
                component.access_token = value
                assert world.query_auth(component, sandbox.authorize(component.appid, oa.appid)["authorization_code"])
    finally:
        callback.close()
        sandbox.close()


def test_both_workers_follow_the_platform_version_set_through_either(two_workers: str) -> None:
    base = two_workers
    sandbox = SandboxClient(base, KEY)
    sandbox.reset()
    live = LiveServer(base, KEY, None, None)  # type: ignore[arg-type]
    try:
        assert sandbox.http.put("/platform-version", json={"version": "2023-12-25"}).status_code == 200
        # Requests spread over both workers: every one sees the version, and registers uncertified MPs.
        assert {sandbox.http.get("/platform-version").json()["version"] for _ in range(20)} == {"2023-12-25"}
        with httpx.Client(base_url=base, timeout=30) as client:
            world = World(live, sandbox, client)
            component = world.component()
            for _ in range(4):
                oa = world.oa()
                answer = world.fastregister(world.authorize(component, oa), world.ticket(component, oa))
                assert answer["errcode"] == 0 and answer["is_wx_verify_succ"] == "false"
        sandbox.reset()
        assert {sandbox.http.get("/platform-version").json()["version"] for _ in range(20)} == {"2021-06-01"}
    finally:
        sandbox.close()
