"""The sandbox API in its other set-ups: production mode (every /sandbox route is 404), a generated key kept
in the data directory, and a live server on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fastreg.settings import Settings
from fastreg.testing import LiveServer, run_live_server
from tests.pg import temporary_database

POSTGRES_URL = os.environ.get("FASTREG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

SANDBOX_PATHS = [
    ("POST", "/sandbox/v1/reset"),
    ("GET", "/sandbox/v1/clock"),
    ("PUT", "/sandbox/v1/clock"),
    ("POST", "/sandbox/v1/official-accounts"),
    ("GET", "/sandbox/v1/official-accounts/wx0000000000000000"),
    ("PATCH", "/sandbox/v1/principals/x"),
    ("POST", "/sandbox/v1/components"),
    ("POST", "/sandbox/v1/components/wx0000000000000000/verify-ticket"),
    ("POST", "/sandbox/v1/components/wx0000000000000000/authorizations"),
    ("GET", "/sandbox/v1/confirmations?wxid=a"),
    ("POST", "/sandbox/v1/confirmations/abc"),
    ("POST", "/sandbox/v1/scans"),
    ("GET", "/sandbox/v1/mail"),
    ("POST", "/sandbox/v1/personal-wechat-emails"),
    ("GET", "/sandbox/v1/mini-programs/wx0000000000000000"),
    ("GET", "/sandbox/v1/audit"),
]


def sqlite_settings(tmp: Path, **fields: object) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp / 'fastreg.db'}", data_dir=tmp, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live, stop = run_live_server(
        sqlite_settings(tmp_path_factory.mktemp("production"), mode="production", sandbox_key="k")
    )
    yield live
    stop()


@pytest.mark.parametrize(("method", "path"), SANDBOX_PATHS, ids=[f"{m} {p}" for m, p in SANDBOX_PATHS])
def test_production_mode_has_no_sandbox_routes(production_server: LiveServer, method: str, path: str) -> None:
    response = httpx.request(
        method, production_server.base_url + path, headers={"X-Sandbox-Key": "k"}, json={"advance_seconds": 1}
    )
    assert response.status_code == 404


ADMIN_PATHS = ("/docs", "/redoc", "/openapi.json", "/metrics")
SERVED_ADMIN_PATHS = ("/docs", "/openapi.json", "/metrics")  # no ReDoc: it only loads from a CDN


def test_production_mode_serves_no_docs_nor_metrics_by_default(production_server: LiveServer) -> None:
    assert httpx.get(production_server.base_url + "/healthz").status_code == 200
    assert {path: httpx.get(production_server.base_url + path).status_code for path in ADMIN_PATHS} == dict.fromkeys(
        ADMIN_PATHS, 404
    )


def test_production_mode_serves_docs_and_metrics_when_turned_on(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, mode="production", sandbox_key="k", admin_endpoints=True)
    live, stop = run_live_server(settings)
    try:
        assert {path: httpx.get(live.base_url + path).status_code for path in SERVED_ADMIN_PATHS} == dict.fromkeys(
            SERVED_ADMIN_PATHS, 200
        )
        schema = httpx.get(live.base_url + "/openapi.json").json()
        assert not [p for p in schema["paths"] if p.startswith("/sandbox")]
    finally:
        stop()


def test_sandbox_mode_documents_its_routes(fastreg_server: LiveServer) -> None:
    schema = httpx.get(fastreg_server.base_url + "/openapi.json").json()
    assert "/sandbox/v1/official-accounts/{appid}" in schema["paths"]


def test_generated_key_is_kept_in_the_data_directory(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)  # no FASTREG_SANDBOX_KEY
    assert settings.sandbox_key is None
    live, stop = run_live_server(settings)
    try:
        url = live.base_url + "/sandbox/v1/clock"
        assert httpx.get(url).status_code == 401
        key = (tmp_path / "sandbox_key").read_text().strip()
        assert len(key) >= 32
        assert httpx.get(url, headers={"X-Sandbox-Key": key}).status_code == 200
        assert httpx.post(live.base_url + "/sandbox/v1/reset", headers={"X-Sandbox-Key": key}).status_code == 200
        assert (tmp_path / "sandbox_key").read_text().strip() == key  # reset keeps the key
    finally:
        stop()
    # A restart (or another worker) on the same data directory uses the same key.
    live, stop = run_live_server(settings)
    try:
        assert httpx.get(live.base_url + "/sandbox/v1/clock", headers={"X-Sandbox-Key": key}).status_code == 200
    finally:
        stop()


@pytest.fixture(scope="module")
def postgres_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, LiveServer]]:
    data_dir = tmp_path_factory.mktemp("pg-sandbox")
    with temporary_database("fastreg_sandbox") as url:
        live, stop = run_live_server(Settings(database_url=url, data_dir=data_dir, sandbox_key="pg-key"))
        with httpx.Client(base_url=live.base_url + "/sandbox/v1", headers={"X-Sandbox-Key": "pg-key"}) as client:
            yield client, live
        stop()


def test_sandbox_on_postgresql(postgres_sandbox: tuple[httpx.Client, LiveServer]) -> None:
    api, live = postgres_sandbox
    assert api.post("/reset").status_code == 200
    assert api.put("/clock", json={"now": "2026-11-30T16:00:00Z"}).json() == {
        "now": "2026-11-30T16:00:00Z",
        "frozen": True,
    }
    created = api.post(
        "/official-accounts",
        json={"name": "示例", "principal_name": "示例公司", "principal_type": "individual_business"},
    )
    assert created.status_code == 201
    appid = created.json()["appid"]
    overview = api.get(f"/official-accounts/{appid}").json()
    assert overview["quota"] == {"month": "2026-12", "limit": 1, "used": 0, "remaining": 1}
    assert api.patch("/principals/示例公司", json={"blacklisted": True}).json()["blacklisted"] is True
    component = api.post("/components", json={"name": "平台", "redirect_domain": "example.com"}).json()
    code = api.post(f"/components/{component['component_appid']}/authorizations", json={"authorizer_appid": appid})
    assert code.status_code == 200 and code.json()["expires_in"] == 3600

    assert live.platform.mailer is not None
    live.platform.mailer.send("pg@example.com", "邮件", "http://127.0.0.1/activate/x", "")
    [mail] = api.get("/mail", params={"to": "pg@example.com"}).json()
    assert mail["links"] == ["http://127.0.0.1/activate/x"] and mail["sent_at"] == "2026-11-30T16:00:00Z"

    assert api.post("/reset").status_code == 200
    assert api.get(f"/official-accounts/{appid}").status_code == 404
    assert api.get("/mail").json() == []
    assert api.get("/clock").json()["frozen"] is False
