"""The example integrator suite (examples/integrator: a third-party platform's code and its ten tests, using the
pytest plugin and wechatpy) runs as an integrator's CI would run it: in two xdist workers, each with its own
fastreg, and serially against a fastreg that was started separately (``--fastreg-url``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastreg.settings import settings_from
from fastreg.testing import run_live_server

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "integrator"


def run_example(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """pytest on the example suite, in its own directory and without this run's FASTREG_* settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FASTREG_")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=EXAMPLE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done, time.perf_counter() - started


def passed(done: subprocess.CompletedProcess[str]) -> int:
    summary = re.search(r"(\d+) passed", done.stdout)
    assert done.returncode == 0 and summary, done.stdout[-3000:] + done.stderr[-3000:]
    assert not re.search(r"\d+ (failed|error)", done.stdout), done.stdout[-3000:]
    return int(summary.group(1))


def test_the_example_suite_runs_in_two_xdist_workers() -> None:
    pytest.importorskip("xdist")
    done, seconds = run_example("-p", "xdist", "-n", "2")
    assert passed(done) == 10
    assert "bringing up nodes" in done.stdout  # xdist ran it
    print(f"example suite, -n 2: {seconds:.1f} s")


def test_the_example_suite_runs_against_a_server_started_separately(tmp_path: Path) -> None:
    settings = settings_from(
        database_url=f"sqlite:///{tmp_path / 'shared.db'}", data_dir=tmp_path, sandbox_key="shared-server-key"
    )
    live, stop = run_live_server(settings)
    try:
        done, seconds = run_example("--fastreg-url", live.base_url, "--fastreg-key", "shared-server-key")
        assert passed(done) == 10
        # The suite ran on this server: its accounts are here (the last test's, after its reset).
        with live.platform.uow(readonly=True) as uow:
            from sqlalchemy import func, select

            from fastreg.adapters.db.models import OfficialAccount

            assert uow.session.execute(select(func.count()).select_from(OfficialAccount)).scalar_one() >= 1
    finally:
        stop()
    print(f"example suite against a running server: {seconds:.1f} s")
