"""``fastreg serve --workers 2`` in a subprocess: two server processes sharing one database, as deployed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fastreg.testing import free_port


@contextmanager
def two_workers(database_url: str, data_dir: Path, sandbox_key: str) -> Iterator[str]:
    """The base URL of a two-worker server on ``database_url`` (sandbox mode), stopped on exit."""
    port = free_port()
    env = {**os.environ, "FASTREG_SANDBOX_KEY": sandbox_key, "FASTREG_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "fastreg.cli", "serve", "--db", database_url, "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("fastreg serve --workers 2 did not start")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
