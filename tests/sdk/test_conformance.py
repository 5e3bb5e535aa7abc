"""The SDK conformance suite (fidelity.md §4) inside ``make test``: conformance/run.py builds the wechatpy, WxJava
and silenceper/wechat runners, starts a live fastreg (on SQLite, then on PostgreSQL) and runs them against it;
each SDK's row must be green."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from tests.pg import temporary_database

ROOT = Path(__file__).resolve().parents[2]
SDKS = ["wechatpy", "wxjava", "silenceper"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    output = tmp_path_factory.mktemp("conformance") / "results.json"
    database: AbstractContextManager[str | None] = (
        temporary_database("fastreg_conformance") if request.param == "postgres" else nullcontext()
    )
    with database as url:
        done = subprocess.run(
            [sys.executable, str(ROOT / "conformance" / "run.py"), "--json", str(output)]
            + (["--db", url] if url else []),
            capture_output=True,
            text=True,
            timeout=1500,
            check=False,
        )
    print(done.stdout)
    assert output.exists(), done.stdout + done.stderr
    yield {row["sdk"]: row for row in json.loads(output.read_text())}


@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_row_is_green(results: dict[str, Any], sdk: str) -> None:
    row = results[sdk]
    red = [f"{call['call']}: {call.get('detail')}" for call in row["calls"] if call.get("ok") is not True]
    if not row["calls"] or red:
        pytest.fail(f"{sdk} {row['version']}: {len(red)} of {len(row['calls'])} calls red:\n" + "\n".join(red))
    assert row["passed"] == len(row["calls"])
