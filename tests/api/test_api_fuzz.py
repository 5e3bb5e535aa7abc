"""Property: whatever JSON body, query string or path segment a stranger sends to any ``/cgi-bin`` or
``/sandbox/v1`` route, on SQLite and on PostgreSQL, the answer is never a server error. The routes come from the
app's own OpenAPI document; bodies mix the route's field names with arbitrary JSON (NUL bytes, lone surrogates,
NaN, deep nesting, not JSON at all); tokens are real about half of the time, so the routes' inner checks run
too. ``EXAMPLES_PER_ROUTE`` examples per route keep it well under a minute per database."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastreg.testing import LiveServer
from tests.api.world import World, operations

EXAMPLES_PER_ROUTE = 30
ODD = ["\x00", "\ud800", "\udfff", "\\", '"', "\u2028", "²"]
NASTY = ["", "\x00", "a\x00b", "\ud800", "x\udfff", "%00", "../", "²", "9" * 20, "wx" + "9" * 30, "a" * 300]

# Known-nasty strings two times out of three, arbitrary text (with odd characters mixed in) otherwise.
text = st.one_of(
    st.sampled_from(NASTY), st.sampled_from(NASTY), st.text(st.characters() | st.sampled_from(ODD), max_size=24)
)
url_text = st.text(st.characters(codec="utf-8") | st.sampled_from(["\x00", "²", "%", "/", "\\", "?", "#"]), max_size=24)
scalars = st.none() | st.booleans() | st.integers() | st.floats() | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=10
)


def dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # lone surrogates travel as \ud800 escapes


def nested(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


def field_names(document: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    """Mostly every field of the route as a string (so the route goes on to use them), else anything."""
    keys = st.sampled_from(fields) | text if fields else text
    complete = st.fixed_dictionaries(dict.fromkeys(fields, text)).map(dump)
    anything = st.one_of(
        st.dictionaries(keys, json_values, max_size=6).map(dump),
        json_values.map(dump),
        st.binary(max_size=48),
        st.sampled_from([3, 40, 1000, 1500]).map(nested),
    )
    return st.integers(0, 2).flatmap(lambda kind: complete if kind and fields else anything)


def queries(names: list[str], real: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    values = url_text | st.sampled_from(sorted(real.values())) if real else url_text
    return st.dictionaries(st.sampled_from(names) | url_text, values, max_size=4)


def fill_path(template: str, segments: list[str]) -> str:
    parts = iter(segments)
    return re.sub(r"\{[^}]+\}", lambda _: quote(next(parts) or "x", safe=""), template)


def fuzz_route(client: httpx.Client, method: str, template: str, document: dict[str, Any], real: dict[str, str]) -> int:
    """Send ``EXAMPLES_PER_ROUTE`` generated requests to one route; the number sent (fails on a 5xx)."""
    operation = document["paths"][template][method.lower()]
    params = sorted({p["name"] for p in operation.get("parameters", []) if p["in"] == "query"} | set(real))
    holes = template.count("{")
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        body=bodies(field_names(document, operation)),
        query=queries(params, real),
        segments=st.lists(url_text, min_size=holes, max_size=holes),
    )
    def call(body: bytes, query: dict[str, str], segments: list[str]) -> None:
        nonlocal sent
        path = fill_path(template, segments)
        response = client.request(method, path, params=query, content=body)
        sent += 1
        assert response.status_code < 500, f"{method} {path} {query!r} {body[:120]!r}: {response.status_code}"

    call()
    return sent


def test_no_route_answers_a_server_error_whatever_it_is_sent(world: World, live: LiveServer) -> None:
    component = world.component()
    oa = world.oa()
    real = {"component_access_token": component.access_token, "access_token": world.authorize(component, oa)}
    document: dict[str, Any] = live.app.openapi()
    routes = operations(live, "/cgi-bin/") + operations(live, "/sandbox/")
    assert len(routes) >= 25
    with httpx.Client(base_url=live.base_url, timeout=30, headers={"X-Sandbox-Key": live.sandbox_key}) as client:
        sent = {f"{method} {path}": fuzz_route(client, method, path, document, real) for method, path in routes}
    print(f"\nfuzzed {len(routes)} routes with {sum(sent.values())} requests")
    assert all(count >= EXAMPLES_PER_ROUTE // 2 for count in sent.values()), sent
