"""``POST /sandbox/v1/reset`` while other calls run, on SQLite and PostgreSQL: no answer is a 5xx, neither the
resets' nor the others'; each call either finished before a reset or saw the empty world after it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx

from fastreg.testing import LiveServer, SandboxClient

KEY = "fastreg-test-key"
RESETS = 15


def busy_integrator(base_url: str, stop: threading.Event, statuses: Counter[str], n: int) -> None:
    """What a suite does between resets: accounts, a component, an authorization, tokens, a link list."""
    headers = {"X-Sandbox-Key": KEY}
    with httpx.Client(base_url=base_url, timeout=60) as http:

        def call(method: str, path: str, **kwargs: Any) -> Any:
            response = http.request(method, path, **kwargs)
            statuses[f"{response.status_code}"] += 1
            assert response.status_code < 500, f"{method} {path}: {response.status_code} {response.text}"
            return response.json()

        i = 0
        while not stop.is_set():
            i += 1
            oa = call(
                "POST",
                "/sandbox/v1/official-accounts",
                headers=headers,
                json={"name": f"号{n}-{i}", "principal_name": f"公司{n}-{i}", "principal_type": "enterprise"},
            )
            component = call(
                "POST",
                "/sandbox/v1/components",
                headers=headers,
                json={"name": f"平台{n}-{i}", "redirect_domain": "example.com", "callback_url": "http://127.0.0.1:9/"},
            )
            if "appid" not in oa or "component_appid" not in component:
                continue
            call(
                "POST",
                f"/sandbox/v1/components/{component['component_appid']}/authorizations",
                headers=headers,
                json={"authorizer_appid": oa["appid"]},
            )
            call(
                "GET",
                "/cgi-bin/token",
                params={"grant_type": "client_credential", "appid": oa["appid"], "secret": oa["secret"]},
            )
            token = call(
                "POST",
                "/cgi-bin/component/api_component_token",
                json={
                    "component_appid": component["component_appid"],
                    "component_appsecret": component["component_appsecret"],
                    "component_verify_ticket": component["component_verify_ticket"],
                },
            )
            call("GET", f"/sandbox/v1/official-accounts/{oa['appid']}", headers=headers)
            if token.get("component_access_token"):
                call(
                    "POST",
                    "/cgi-bin/component/api_create_preauthcode",
                    params={"component_access_token": token["component_access_token"]},
                    json={"component_appid": component["component_appid"]},
                )


def test_reset_under_load_never_answers_500(live: LiveServer, sandbox: SandboxClient) -> None:
    stop = threading.Event()
    statuses: Counter[str] = Counter()
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            busy_integrator(live.base_url, stop, statuses, n)
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in workers:
        thread.start()
    resets = []
    try:
        for _ in range(RESETS):
            time.sleep(0.05)
            response = sandbox.http.post("/reset")
            resets.append(response.status_code)
    finally:
        stop.set()
        for thread in workers:
            thread.join(60)

    assert resets == [200] * RESETS
    assert not failures, failures[0]
    assert statuses["201"] > RESETS  # the load really ran between the resets
    # After the last reset and the load's last calls, one more reset leaves the empty world.
    sandbox.reset()
    assert sandbox.http.get("/audit").json() == []
