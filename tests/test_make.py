"""The README's two commands and CI: what ``make serve`` and ``make test`` run, and that ``.ci/run`` fails
when pytest fails or collects no test at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def dry_run(*args: str) -> str:
    """What make would run (``-B``: as on a fresh clone, every target out of date)."""
    # Run under `make test` itself, a nested make would print "Entering/Leaving directory" lines.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return result.stdout


def test_make_serve_installs_then_serves_on_localhost_8000() -> None:
    lines = dry_run("serve").splitlines()
    assert any(line.endswith("-m venv .venv") for line in lines)
    assert any("--require-hashes -r requirements.lock" in line for line in lines)
    assert any("install" in line and "-e ." in line for line in lines)
    assert lines[-1] == ".venv/bin/fastreg serve --host 127.0.0.1 --port 8000"


def test_make_test_installs_dev_dependencies_and_runs_lint_types_and_pytest() -> None:
    commands = dry_run("test")
    assert "--require-hashes -r requirements-dev.lock" in commands
    assert "chromium" in commands  # the Debian browser, installed when missing
    assert ".venv/bin/ruff check src tests" in commands
    assert ".venv/bin/mypy" in commands
    assert ".venv/bin/pytest" in commands
    # PostgreSQL: the configured server when it answers, else a cluster of the run's own around pytest.
    assert ".venv/bin/python scripts/with_postgres.py .venv/bin/pytest" in commands


def test_make_conformance_installs_then_runs_the_sdk_suite() -> None:
    lines = dry_run("conformance").splitlines()
    assert any("--require-hashes -r requirements-dev.lock" in line for line in lines)
    assert lines[-1].strip() == ".venv/bin/python conformance/run.py"


def test_ci_runs_exactly_make_test() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
    assert "set -euo pipefail" in script
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == "make test"


def fake_venv(tmp_path: Path, pytest_exit: int | None) -> Path:
    """A stand-in for .venv whose install markers are up to date and whose ruff, mypy and import contracts pass,
    so that only the pytest step of ``make test`` decides; pytest is the real one unless ``pytest_exit`` is
    given."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for tool in ("ruff", "mypy", "lint-imports"):
        path = venv / "bin" / tool
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    pytest_path = venv / "bin" / "pytest"
    if pytest_exit is None:
        pytest_path.symlink_to(Path(sys.executable).with_name("pytest"))
    else:
        pytest_path.write_text(f"#!/bin/sh\nexit {pytest_exit}\n")
        pytest_path.chmod(0o755)
    python_path = venv / "bin" / "python"  # runs scripts/with_postgres.py, which needs psycopg
    python_path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python_path.chmod(0o755)
    for marker in (".installed", ".installed-dev"):
        (venv / marker).touch()
    return venv


def run_ci(venv: Path, pytest_args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAKEFLAGS": f"VENV={venv} PYTEST_ARGS={pytest_args}"}
    return subprocess.run([str(ROOT / ".ci" / "run")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def browser_present() -> None:
    if shutil.which("chromium") is None:
        pytest.skip("the browser step would install chromium")


@pytest.mark.usefixtures("browser_present")
def test_ci_fails_when_no_test_is_collected(tmp_path: Path) -> None:
    empty = tmp_path / "no_tests"
    empty.mkdir()
    result = run_ci(fake_venv(tmp_path, None), str(empty))
    assert "no tests ran" in result.stdout + result.stderr
    assert result.returncode != 0


@pytest.mark.usefixtures("browser_present")
def test_ci_fails_when_a_test_fails_and_passes_when_they_pass(tmp_path: Path) -> None:
    assert run_ci(fake_venv(tmp_path / "a", 1), "x").returncode != 0
    assert run_ci(fake_venv(tmp_path / "b", 0), "x").returncode == 0
