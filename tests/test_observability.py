"""Request ids on every log line, the access log, and ``/metrics`` (requests by route template and status,
registrations by outcome, quota refusals), on an app built on each database."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI

from fastreg.domain.errors import DomainError
from fastreg.observability import configure_logging
from fastreg.platform import Platform
from fastreg.services.fastregister import fastregister
from fastreg.web.app import create_app

from .db.helpers import issue_ticket, make_component, setup


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform=platform)


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    # A real ASGI round trip through the whole middleware stack, in-process.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async_client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    yield _SyncAdapter(async_client)  # type: ignore[misc]


class _SyncAdapter:
    """Drive the async client from a synchronous test."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def request(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        import anyio

        async def go() -> httpx.Response:
            return await self.client.request(method, url, **kwargs)  # type: ignore[arg-type]

        return anyio.run(go)

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in metrics_text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return 0.0


def test_request_id_is_echoed_or_generated(client: _SyncAdapter) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.status_code == 200 and given.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz")
    # Shaped like WeChat's rid: Unix time, then 64 random bits, as three groups of eight hex digits.
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}", generated.headers["x-request-id"])
    unsafe = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}", unsafe.headers["x-request-id"])


def test_metrics_count_requests_by_route_template_and_status(client: _SyncAdapter) -> None:
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    client.get("/no/such/page/at/all")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "fastreg_http_requests_total", method="GET", route="/healthz", status="200") == 3
    assert sample(text, "fastreg_http_request_duration_seconds_count", method="GET", route="/healthz") == 3
    # Unknown paths are not a label value of their own (the label set stays bounded).
    assert "/no/such/page/at/all" not in text


def test_metrics_use_the_route_template_not_the_path(client: _SyncAdapter, app: FastAPI) -> None:
    @app.get("/probe/{item_id}")
    def probe(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    client.get("/probe/one")
    client.get("/probe/two")
    text = client.get("/metrics").text
    assert sample(text, "fastreg_http_requests_total", route="/probe/{item_id}", status="200") == 2
    assert "/probe/one" not in text


def test_registrations_and_quota_refusals_are_counted_once_committed(platform: Platform, client: _SyncAdapter) -> None:
    s = setup(platform)
    tickets = [issue_ticket(platform, s) for _ in range(platform.settings.monthly_quota + 1)]
    for ticket in tickets[:-1]:
        fastregister(platform, s.oa.appid, s.component_id, ticket)
    with pytest.raises(DomainError) as refused:
        fastregister(platform, s.oa.appid, s.component_id, tickets[-1])
    assert refused.value.errcode == 61055
    text = client.get("/metrics").text
    quota = platform.settings.monthly_quota
    assert sample(text, "fastreg_registrations_total", outcome="completed", errcode="0") == quota
    assert sample(text, "fastreg_registrations_total", outcome="refused", errcode="61055") == 1
    assert sample(text, "fastreg_quota_refusals_total") == 1
    assert "fastreg_push_failures_total" in text


def test_every_log_line_of_a_request_carries_its_request_id(platform: Platform, app: FastAPI) -> None:
    stream = io.StringIO()
    json_settings = platform.settings.model_copy(update={"log_format": "json"})
    configure_logging(json_settings, stream=stream)
    try:

        @app.get("/probe-log")
        def probe_log() -> dict[str, bool]:
            logging.getLogger("fastreg.some.module").warning("a standard logging line")
            structlog.get_logger("fastreg.other").info("a structlog line", detail=1)
            return {"ok": True}

        client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
        response = client.get("/probe-log", headers={"X-Request-Id": "req-42"})
        assert response.status_code == 200
        lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
        events = {line["event"] for line in lines}
        assert {"a standard logging line", "a structlog line", "request"} <= events
        assert all(line.get("request_id") == "req-42" for line in lines), lines
        access = next(line for line in lines if line["event"] == "request")
        assert access["route"] == "/probe-log" and access["status"] == 200 and access["method"] == "GET"
    finally:
        configure_logging(platform.settings, stream=None)
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_a_wechat_errors_rid_is_the_logged_request_id(platform: Platform, app: FastAPI) -> None:
    stream = io.StringIO()
    configure_logging(platform.settings.model_copy(update={"log_format": "json"}), stream=stream)
    try:
        client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
        response = client.post("/cgi-bin/component/api_create_preauthcode", content=b"{}")
        rid = response.headers["x-request-id"]
        assert response.json() == {"errcode": 41001, "errmsg": f"access_token missing rid: {rid}"}
        lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
        access = next(line for line in lines if line["event"] == "request")
        assert access["request_id"] == rid and access["path"] == "/cgi-bin/component/api_create_preauthcode"
    finally:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_console_format_is_key_value(platform: Platform, app: FastAPI) -> None:
    stream = io.StringIO()
    configure_logging(platform.settings.model_copy(update={"log_format": "console"}), stream=stream)
    try:
        client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
        client.get("/healthz", headers={"X-Request-Id": "console-1"})
        line = next(line for line in stream.getvalue().splitlines() if "request" in line)
        assert "request_id=console-1" in line and "route=/healthz" in line and "status=200" in line
    finally:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_the_access_line_follows_the_logging_configuration_of_the_moment(platform: Platform, app: FastAPI) -> None:
    # The access logger is bound once per configuration: configured again, it takes the new level and format.
    stream = io.StringIO()
    client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
    try:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}), stream=stream)
        client.get("/healthz", headers={"X-Request-Id": "quiet-1"})
        assert "quiet-1" not in stream.getvalue()
        configure_logging(
            platform.settings.model_copy(update={"log_format": "json", "log_level": "INFO"}), stream=stream
        )
        client.get("/healthz", headers={"X-Request-Id": "heard-1"})
        heard = [json.loads(line) for line in stream.getvalue().splitlines() if "heard-1" in line]
        access = [line for line in heard if line["event"] == "request"]
        assert len(access) == 1 and access[0]["level"] == "info" and access[0]["request_id"] == "heard-1"
        configure_logging(platform.settings.model_copy(update={"log_format": "console"}), stream=stream)
        client.get("/healthz", headers={"X-Request-Id": "heard-2"})
        assert any("request_id=heard-2" in line and not line.startswith("{") for line in stream.getvalue().splitlines())
    finally:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_console_lines_escape_control_characters(platform: Platform, app: FastAPI) -> None:
    # A path with a line break and an ANSI escape, and a message with both: neither forges a line nor colours one.
    stream = io.StringIO()
    configure_logging(platform.settings.model_copy(update={"log_format": "console"}), stream=stream)
    forged = "2026-01-01T00:00:00Z [info] request status=200"
    try:

        @app.get("/probe-escape")
        def probe_escape() -> dict[str, bool]:
            logging.getLogger("fastreg.some.module").warning("value %s", "x\n" + forged + "\x1b[31m")
            return {"ok": True}

        client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
        assert client.get("/probe-escape").status_code == 200
        assert client.get("/nowhere%0A" + forged.replace(" ", "%20") + "%1B[2J").status_code == 404
        written = stream.getvalue()
        assert "\x1b" not in written
        assert not any(line.startswith("2026-01-01") for line in written.splitlines()), written
        assert "x\\n2026-01-01" in written and "\\x1b[31m" in written and "path=/nowhere\\n2026-01-01" in written
    finally:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_secrets_in_paths_are_not_logged_the_route_template_is(platform: Platform, app: FastAPI) -> None:
    stream = io.StringIO()
    configure_logging(platform.settings.model_copy(update={"log_format": "json"}), stream=stream)
    secret = "S3cretPathValue0123456789abcdef"
    try:
        client = _SyncAdapter(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t"))  # type: ignore[arg-type]
        for path in (f"/activate/{secret}", f"/m/confirm/{secret}", f"/m/enrol/{secret}"):
            client.get(path)
        client.post(f"/m/confirm/{secret}", data={"action": "confirm"})
        # The server's lines only (the test's own HTTP client logs the URLs it requests).
        lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
        written = json.dumps([line for line in lines if line.get("logger") != "httpx"])
        assert secret not in written
        logged = [(line["path"], line["route"]) for line in lines if line["event"] == "request"]
        assert logged == [
            ("/activate/{token}", "/activate/{token}"),
            ("/m/confirm/{confirmation_id}", "/m/confirm/{confirmation_id}"),
            ("/m/enrol/{token}", "/m/enrol/{token}"),
            ("/m/confirm/{confirmation_id}", "/m/confirm/{confirmation_id}"),
        ]
    finally:
        configure_logging(platform.settings.model_copy(update={"log_level": "WARNING"}))
        configure_logging(platform.settings)


def test_failed_push_deliveries_are_counted(platform: Platform, client: _SyncAdapter) -> None:
    from sqlalchemy import select

    from fastreg.adapters.db.models import Component
    from fastreg.services import pushes

    component, _ = make_component(platform, callback_url="http://127.0.0.1:9/callback")
    with platform.uow() as uow:
        row = uow.session.execute(select(Component).where(Component.appid == component.component_appid)).scalar_one()
        pushes.enqueue_verify_ticket(uow.session, uow.clock.now(), row)
        pushes.enqueue_verify_ticket(uow.session, uow.clock.now(), row)
        uow.commit()
    first, second = pushes.claim_due(platform)[:2]
    pushes.record_outcome(platform, first, pushes.Outcome(error="HTTP 500"))
    pushes.record_outcome(platform, second, pushes.Outcome())  # delivered: not a failure
    assert sample(client.get("/metrics").text, "fastreg_push_failures_total") == 1


def test_metrics_add_up_over_workers_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two uvicorn workers with PROMETHEUS_MULTIPROC_DIR: /metrics, whichever worker answers, counts them all."""
    from bench._common import migrate, start_fastreg

    url = f"sqlite:///{tmp_path}/metrics.db"
    migrate(url)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    server = start_fastreg(url, str(tmp_path / "data"), workers=2, PROMETHEUS_MULTIPROC_DIR=str(shared))
    try:
        for _ in range(40):
            with httpx.Client() as fresh:  # a new connection each time, so both workers answer some
                assert fresh.get(server.base_url + "/healthz").status_code == 200
        text = httpx.get(server.base_url + "/metrics").text
    finally:
        server.stop()
    answered = sample(text, "fastreg_http_requests_total", route="/healthz", status="200")
    assert answered == 41  # and the start-up probe's: every request, whichever worker answered it
    assert len(list(shared.glob("counter_*.db"))) == 2  # one file per worker
