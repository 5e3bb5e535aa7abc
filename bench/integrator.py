"""How long an integrator's test suite waits for fastreg: 50 complete fast-registration tests run with the
pytest plugin, as a third-party platform's own suite would run them.

Each test is the README's complete test file (``tests/e2e/test_readme_example.py``): a fresh sandbox (reset),
an OA and a component created through the sandbox API, the consent page and the fastregisterauth page confirmed,
``wechatpy`` making the eight Open API calls (component token, pre-auth code, two ``api_query_auth``,
``account/fastregister``, ``wxamplinkget`` ...), and the pushes received and decrypted on a local callback.
Prints the median and the 90th percentile per test (set-up + call + tear-down, as pytest reports them), the sum
over the 50 tests, and the wall time of the pytest process (which includes starting the server).

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

SUITE = """
import pytest

import tests.e2e.test_readme_example as readme


@pytest.mark.parametrize("n", range({count}))
def test_complete_fast_registration(n, fastreg_sandbox, fastreg_base_url, fastreg_callback):
    readme.test_fast_registration(fastreg_sandbox, fastreg_base_url, fastreg_callback)
"""


def run_suite(count: int) -> tuple[list[float], float]:
    """Run the suite in a pytest process of its own; the per-test durations and the process's wall time."""
    with tempfile.TemporaryDirectory() as work:
        suite = Path(work) / "test_integration.py"
        suite.write_text(SUITE.format(count=count))
        report = Path(work) / "report.xml"
        env = {key: value for key, value in os.environ.items() if not key.startswith("FASTREG_")}
        env["PYTHONPATH"] = str(ROOT)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(suite)],
            cwd=work,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        cases = ElementTree.parse(report).getroot().iter("testcase")
        return [float(case.get("time", "0")) for case in cases], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=50)
    args = parser.parse_args()
    durations, wall = run_suite(args.tests)
    assert len(durations) == args.tests, f"{len(durations)} test results for {args.tests} tests"
    ordered = sorted(durations)
    p90 = ordered[max(0, round(0.9 * len(ordered)) - 1)]
    print(f"complete fast-registration tests: {len(durations)}")
    print(f"per test: median {statistics.median(durations) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms")
    print(f"sum over the tests: {sum(durations):.2f} s; pytest wall time (server start included): {wall:.2f} s")


if __name__ == "__main__":
    main()
