"""How long an integrator's test suite waits for fastreg: 50 complete fast-registration tests run with the
pytest plugin, as a third-party platform's own suite would run them.

Each test is the README's complete test file (``tests/e2e/test_readme_example.py``): a fresh sandbox (reset),
an OA and a component created through the sandbox API, the consent page and the fastregisterauth page confirmed,
``wechatpy`` making the eight Open API calls (component token, pre-auth code, two ``api_query_auth``,
``account/fastregister``, ``wxamplinkget`` ...), and the pushes received and decrypted on a local callback.
Prints the median and the 90th percentile per test (set-up + call + tear-down, as pytest reports them), the
same for the CPU time the pytest process spent on each test (the client, the server's threads and the callback
together: less sensitive to the machine's load than the wall time), the sum over the 50 tests, and the wall time
of the pytest process (which includes starting the server).

    .venv/bin/python bench/integrator.py                # 50 tests
    .venv/bin/python bench/integrator.py --tests 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each test's CPU time (set-up to tear-down), recorded as a property of its junit XML test case.
CONFTEST = """
import time

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    item.cpu_started = time.process_time()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    yield
    item.user_properties.append(("cpu_seconds", time.process_time() - item.cpu_started))
"""

SUITE = """
import pytest

import tests.e2e.test_readme_example as readme


@pytest.mark.parametrize("n", range({count}))
def test_complete_fast_registration(n, fastreg_sandbox, fastreg_base_url, fastreg_callback):
    readme.test_fast_registration(fastreg_sandbox, fastreg_base_url, fastreg_callback)
"""


def run_suite(count: int, src: str | None = None) -> tuple[list[float], list[float], float]:
    """Run the suite in a pytest process of its own (``src``: another checkout's ``src`` imported first); the
    per-test durations and CPU times, and the process's wall time."""
    with tempfile.TemporaryDirectory() as work:
        suite = Path(work) / "test_integration.py"
        suite.write_text(SUITE.format(count=count))
        (Path(work) / "conftest.py").write_text(CONFTEST)
        report = Path(work) / "report.xml"
        env = {key: value for key, value in os.environ.items() if not key.startswith("FASTREG_")}
        env["PYTHONPATH"] = os.pathsep.join([*([src] if src else []), str(ROOT)])
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(suite)],
            cwd=work,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        cases = list(ElementTree.parse(report).getroot().iter("testcase"))
        cpu = [float(found.get("value", "0")) for case in cases for found in case.iter("property")]
        return [float(case.get("time", "0")) for case in cases], cpu, wall


def median_and_p90(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    return f"median {statistics.median(values) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument(
        "--compare",
        metavar="SRC",
        help="also run the suite on another checkout's src, alternating with this one's (--rounds times each): "
        "an A/B under the same load",
    )
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    trees: list[str | None] = [None, *([args.compare] if args.compare else [])]
    for round_ in range(args.rounds):
        for src in trees if round_ % 2 == 0 else list(reversed(trees)):
            load = os.getloadavg()[0]
            durations, cpu, wall = run_suite(args.tests, src)
            assert len(durations) == len(cpu) == args.tests, f"{len(durations)} test results for {args.tests} tests"
            tree = src or "this tree"
            print(f"[{tree}] complete fast-registration tests: {len(durations)} (load average {load:.2f})")
            print(f"  per test: {median_and_p90(durations)}")
            print(f"  CPU per test: {median_and_p90(cpu)}")
            print(f"  sum over the tests: {sum(durations):.2f} s; pytest wall time (server start too): {wall:.2f} s")


if __name__ == "__main__":
    main()
