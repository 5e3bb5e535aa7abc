"""schemathesis against /openapi.json: every Open API operation, with generated (valid and invalid) inputs,
with no token and with real tokens, never answers a server error, in the sandbox and in production mode.
Bounded to run in well under a minute each."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from fastreg.testing import LiveServer, SandboxClient
from tests.api.world import World
from tests.production import Production, accounts_for, enrolled_user, open_consent_page, post_form, production_server

EXAMPLES = 12
BUDGET_SECONDS = 55


def tokens_for(world: World) -> dict[str, str]:
    component = world.component()
    oa = world.oa()
    token = world.authorize(component, oa)
    return {"component_access_token": component.access_token, "access_token": token}


def test_no_server_error_on_any_generated_request(fastreg_server: LiveServer, fastreg_sandbox: SandboxClient) -> None:
    base = fastreg_server.base_url
    with httpx.Client(base_url=base, timeout=30) as client:
        world = World(fastreg_server, fastreg_sandbox, client)
        real_tokens = tokens_for(world)
    no_server_error(base, schemathesis.openapi.from_url(base + "/openapi.json"), real_tokens)


@pytest.fixture(params=["sqlite", "postgres"])
def production(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Production]:
    with production_server(request.param, tmp_path) as server:
        yield server


def production_tokens(production: Production) -> dict[str, str]:
    """A component's token, and the token of an OA that authorized it on the consent page (its admin logged in
    on the phone page), as in production."""
    admin, admin_phone = enrolled_user(production)
    found = accounts_for(production, admin)
    with production.client() as desktop:
        url = open_consent_page(desktop, found)
        assert post_form(admin_phone, httpx.URL(url).path, {"action": "confirm"}).status_code == 303
        admin_phone.close()
        polled = desktop.get("/cgi-bin/scanstatus", params={"id": url.rsplit("/", 1)[1]}).json()
        code = parse_qs(urlsplit(polled["redirect_url"]).query)["auth_code"][0]
        answer = desktop.post(
            "/cgi-bin/component/api_query_auth",
            params={"component_access_token": found.component_token},
            json={"component_appid": found.component_appid, "authorization_code": code},
        ).json()
    token = answer["authorization_info"]["authorizer_access_token"]
    return {"component_access_token": found.component_token, "access_token": token}


def test_no_server_error_in_production_mode(production: Production) -> None:
    """The same run against a production-mode server (whose /openapi.json is not served: the app's own document)."""
    schema = schemathesis.openapi.from_dict(production.live.app.openapi())
    no_server_error(production.live.base_url, schema, production_tokens(production))


def no_server_error(base: str, schema: Any, real_tokens: dict[str, str]) -> None:
    """Every /cgi-bin operation of ``schema``, with generated inputs, without and with ``real_tokens``."""
    schema = schema.include(path_regex="^/cgi-bin/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    started = time.monotonic()
    failures: list[str] = []
    calls: dict[str, int] = {}
    statuses: set[int] = set()

    for operation in operations:
        names = {p.name for p in operation.query}
        fixed = {name: value for name, value in real_tokens.items() if name in names}
        variants: list[dict[str, Any]] = [{"generation_mode": GenerationMode.POSITIVE}]
        variants.append({"generation_mode": GenerationMode.NEGATIVE})
        if fixed:
            variants.append({"generation_mode": GenerationMode.POSITIVE, "query": fixed})
            variants.append({"generation_mode": GenerationMode.NEGATIVE, "query": fixed})
        for variant in variants:
            try:
                strategy = operation.as_strategy(**variant)
            except Exception:  # an operation with nothing to make negative
                continue

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
            @given(case=strategy, _=st.just(None))
            def run(case: Any, _: None) -> None:
                response = case.call(base_url=base)
                label = case.operation.label
                calls[label] = calls.get(label, 0) + 1
                statuses.add(response.status_code)
                try:
                    case.validate_response(response, checks=[not_a_server_error])
                except Exception as exc:
                    failures.append(f"{label}: {response.status_code} {response.text[:200]} ({exc})")
                    raise

            try:
                run()
            except Unsatisfiable:
                pass  # nothing left to make invalid (e.g. the only parameter is fixed)
            except Exception as exc:
                if not any(f.startswith(operation.label) for f in failures):
                    failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:300]}")
        if time.monotonic() - started > BUDGET_SECONDS:
            pytest.fail(f"schemathesis run exceeded its budget after {operation.label}")
    assert failures == []
    assert set(calls) == {operation.label for operation in operations}
    assert sum(calls.values()) >= 10 * len(operations)
    assert all(status < 500 for status in statuses)
