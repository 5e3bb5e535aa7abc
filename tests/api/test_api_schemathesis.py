"""schemathesis against /openapi.json: every Open API operation, with generated (valid and invalid) inputs,
with no token and with real tokens, never answers a server error. Bounded to run in well under a minute."""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from fastreg.testing import LiveServer, SandboxClient
from tests.api.world import World

EXAMPLES = 12
BUDGET_SECONDS = 55


def tokens_for(world: World) -> dict[str, str]:
    component = world.component()
    oa = world.oa()
    token = world.authorize(component, oa)
    return {"component_access_token": component.access_token, "access_token": token}


def test_no_server_error_on_any_generated_request(fastreg_server: LiveServer, fastreg_sandbox: SandboxClient) -> None:
    import httpx

    base = fastreg_server.base_url
    with httpx.Client(base_url=base, timeout=30) as client:
        world = World(fastreg_server, fastreg_sandbox, client)
        real_tokens = tokens_for(world)

    schema = schemathesis.openapi.from_url(base + "/openapi.json").include(path_regex="^/cgi-bin/")
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
