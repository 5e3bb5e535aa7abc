"""``/docs`` works offline (Swagger UI served from the package, no CDN) and ``/openapi.json`` describes the
sandbox API as it really is: the X-Sandbox-Key security scheme, summaries, descriptions and the sandbox's
``{"error": {"code", "message"}}`` refusals instead of FastAPI's ``{"detail"}``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fastreg.testing import LiveServer


@pytest.fixture
def web(fastreg_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fastreg_server.base_url, timeout=30) as client:
        yield client


def test_docs_page_uses_only_assets_the_server_serves(web: httpx.Client) -> None:
    page = web.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "cdn" not in page.text.lower() and "jsdelivr" not in page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert urls, page.text
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "url: '/openapi.json'" in page.text
    kinds = {}
    for url in urls:
        asset = web.get(url)
        assert asset.status_code == 200, url
        kinds[url.rsplit(".", 1)[-1]] = asset.headers["content-type"]
    assert kinds["js"].startswith(("text/javascript", "application/javascript"))
    assert kinds["css"].startswith("text/css")
    assert "SwaggerUIBundle" in web.get("/docs/assets/swagger-ui-bundle.js").text
    assert web.get("/docs/assets/no-such-file.js").status_code == 404
    assert web.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered


def sandbox_operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        if path.startswith("/sandbox/v1/"):
            for method, operation in methods.items():
                yield path, method, operation


def test_sandbox_routes_declare_the_key_summaries_and_their_error_body(web: httpx.Client) -> None:
    schema = web.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["SandboxKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sandbox-Key",
        "description": "FASTREG_SANDBOX_KEY, or the key `fastreg serve` generated and printed",
    }
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert error_body["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message"}

    operations = list(sandbox_operations(schema))
    assert len(operations) >= 24
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation["security"] == [{"SandboxKey": []}], where
        assert operation.get("summary") and operation.get("description"), where
        for status in ("400", "401", "422"):
            body = operation["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}, where
        assert "HTTPValidationError" not in json.dumps(operation), where
    answer = schema["paths"]["/sandbox/v1/confirmations/{confirmation_id}"]["post"]["responses"]
    assert {"403", "404", "409"} <= set(answer)


def test_the_documented_error_body_is_the_one_sent(web: httpx.Client, fastreg_server: LiveServer) -> None:
    refused = web.get("/sandbox/v1/official-accounts/wx0000000000000000")
    assert refused.status_code == 401 and set(refused.json()["error"]) == {"code", "message"}
    headers = {"X-Sandbox-Key": fastreg_server.sandbox_key}
    invalid = web.post("/sandbox/v1/official-accounts", json={}, headers=headers)
    assert invalid.status_code == 422 and set(invalid.json()) == {"error"}
    assert set(invalid.json()["error"]) == {"code", "message"}
