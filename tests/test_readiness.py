"""``/healthz`` is liveness (the process answers); ``/readyz`` is readiness: the database takes a write. On a
PostgreSQL database that has turned read-only (as a standby is), ``/readyz`` answers 503 while ``/healthz``
stays 200; the probe's write is never kept."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.pg import temporary_database


def test_readyz_answers_ready_when_the_database_writes(live: LiveServer, sandbox: SandboxClient) -> None:
    for _ in range(2):  # the probe's row is rolled back: a second probe does not collide with it
        response = httpx.get(live.base_url + "/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready", "database": "ok"}
    with live.platform.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sandbox_state WHERE key = 'readiness-probe'")).scalar() == 0


def test_readyz_answers_503_when_the_database_is_read_only(tmp_path: Path) -> None:
    with temporary_database("fastreg_readonly") as url:
        live, stop = run_live_server(Settings(database_url=url, data_dir=tmp_path, sandbox_key="readonly-key"))
        try:
            assert httpx.get(live.base_url + "/readyz").status_code == 200
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                name = conn.execute(text("SELECT current_database()")).scalar_one()
                conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            admin.dispose()
            live.platform.engine.dispose()  # new connections see the setting
            response = httpx.get(live.base_url + "/readyz")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "database": "cannot write"}
            assert httpx.get(live.base_url + "/healthz").status_code == 200
        finally:
            stop()


@pytest.mark.parametrize("path", ["/readyz", "/healthz"])
def test_probes_are_not_in_the_api_document(live: LiveServer, path: str) -> None:
    assert path not in httpx.get(live.base_url + "/openapi.json").json()["paths"]
