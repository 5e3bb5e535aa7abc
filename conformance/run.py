"""The SDK conformance suite (fidelity.md §4): builds each SDK runner, starts a live fastreg (or uses
``--url``/``--key``), runs the runners one after the other against it and prints the table
``SDK | version | calls | passed`` with every red call below it.

    .venv/bin/python conformance/run.py                 # all SDKs; exit 1 when any call is red
    .venv/bin/python conformance/run.py --sdk wxjava --json results.json

Each runner prints one JSON line ``{"sdk", "version", "language"}`` and then one line per call
``{"call", "ok", "detail"}`` (conformance/README.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SANDBOX_KEY = "conformance-sandbox-key"
RUN_TIMEOUT = 300


@dataclass(frozen=True)
class Runner:
    name: str
    language: str
    cwd: Path
    build: tuple[tuple[str, ...], ...]
    command: tuple[str, ...]
    offline_build: tuple[tuple[str, ...], ...] = ()
    # The build's output and inputs: when the output is newer than every input the build is skipped.
    built: str | None = None
    inputs: tuple[str, ...] = ()

    def up_to_date(self) -> bool:
        if self.built is None or not (self.cwd / self.built).exists():
            return False
        stamp = (self.cwd / self.built).stat().st_mtime
        sources = [path for pattern in self.inputs for path in self.cwd.glob(pattern)]
        return all(path.stat().st_mtime < stamp for path in sources)


def _python_runner() -> Runner:
    return Runner("wechatpy", "Python", HERE / "python", (), (sys.executable, str(HERE / "python" / "runner.py")))


def _maven(*flags: str) -> tuple[str, ...]:
    classpath = ("dependency:build-classpath", "-Dmdep.outputFile=target/classpath.txt")
    return ("mvn", "-q", "-B", *flags, "package", *classpath)


def _java_runner() -> Runner:
    # Offline first (a warm ~/.m2 builds in seconds without asking Maven Central), then online for a cold cache.
    return Runner(
        "wxjava",
        "Java",
        HERE / "java",
        (_maven(),),
        ("sh", "-c", 'exec java -cp "target/classes:$(cat target/classpath.txt)" fastreg.conformance.Runner'),
        offline_build=(_maven("-o"),),
        built="target/classpath.txt",
        inputs=("pom.xml", "src/**/*.java"),
    )


def _go_runner() -> Runner:
    return Runner(
        "silenceper",
        "Go",
        HERE / "go",
        (("go", "build", "-mod=readonly", "-buildvcs=false", "-o", "bin/runner", "."),),
        ("bin/runner",),
    )


RUNNERS = {runner.name: runner for runner in (_python_runner(), _java_runner(), _go_runner())}
# PowerWeChat (github.com/ArtisanCloud/PowerWeChat/v3) is not served by the Go module proxy here: see README.md.
NOT_SERVED = {
    "powerwechat": "the Go module proxy refuses github.com/ArtisanCloud/PowerWeChat/v3 (@v/list and @v3.0.0: "
    "403 Forbidden, 'This module version is not available')"
}


@dataclass
class Result:
    sdk: str
    version: str = "?"
    language: str = "?"
    calls: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> int:
        return sum(1 for call in self.calls if call.get("ok") is True)

    @property
    def green(self) -> bool:
        return bool(self.calls) and self.passed == len(self.calls)

    def as_json(self) -> dict[str, Any]:
        return {
            "sdk": self.sdk,
            "version": self.version,
            "language": self.language,
            "calls": self.calls,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
        }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_fastreg(database_url: str | None) -> Iterator[tuple[str, str]]:
    """``fastreg serve`` on a free port with a fresh database (SQLite in a temporary folder by default)."""
    with tempfile.TemporaryDirectory(prefix="fastreg-conformance-") as folder:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FASTREG_")}
        env.update(FASTREG_SANDBOX_KEY=SANDBOX_KEY, FASTREG_DATA_DIR=folder, FASTREG_PUBLIC_URL=url)
        fastreg = Path(sys.executable).with_name("fastreg")
        command = [str(fastreg), "serve", "--port", str(port), "--db", database_url or f"sqlite:///{folder}/fastreg.db"]
        log = open(Path(folder) / "server.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise RuntimeError("fastreg did not start:\n" + (Path(folder) / "server.log").read_text()[-3000:])
                time.sleep(0.1)
            yield url, SANDBOX_KEY
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


def _run(command: tuple[str, ...], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)


def build(runner: Runner) -> str | None:
    """Build a runner; None when built, else what the build said."""
    if runner.up_to_date():
        return None
    if runner.offline_build and all(_run(step, runner.cwd).returncode == 0 for step in runner.offline_build):
        return None
    for step in runner.build:
        if shutil.which(step[0]) is None:
            return f"{step[0]} is not installed"
        done = _run(step, runner.cwd)
        if done.returncode != 0:
            return f"{' '.join(step)} failed:\n{(done.stdout + done.stderr)[-3000:]}"
    return None


def run(runner: Runner, url: str, key: str) -> Result:
    result = Result(runner.name, language=runner.language)
    started = time.monotonic()
    failure = build(runner)
    if failure is not None:
        result.calls.append({"call": "build", "ok": False, "detail": failure})
        return result
    env = dict(os.environ, FASTREG_URL=url, FASTREG_SANDBOX_KEY=key)
    try:
        done = _run(runner.command, runner.cwd, env)
        output, errors, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as timeout:
        output, errors, code = str(timeout.stdout or ""), f"timed out after {RUN_TIMEOUT} s", -1
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "sdk" in record:
            result.version = str(record.get("version", "?"))
            result.language = str(record.get("language", runner.language))
        elif "call" in record:
            result.calls.append(record)
    if code != 0 or not result.calls:
        result.calls.append({"call": "runner", "ok": False, "detail": f"exit {code}: {errors[-3000:]}"})
    result.seconds = time.monotonic() - started
    return result


def table(results: list[Result]) -> str:
    rows = [("SDK", "language", "version", "calls", "passed")]
    rows += [(r.sdk, r.language, r.version, str(len(r.calls)), str(r.passed)) for r in results]
    rows += [(name, "Go", "not served", "0", "0") for name in NOT_SERVED]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    for result in results:
        for call in result.calls:
            if call.get("ok") is not True:
                lines.append(f"  red  {result.sdk} {call.get('call')}: {call.get('detail')}")
    for name, reason in NOT_SERVED.items():
        lines.append(f"  note {name}: {reason}")
    total = sum(len(r.calls) for r in results)
    passed = sum(r.passed for r in results)
    lines.append(f"conformance: {passed} passed, {total - passed} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdk", action="append", choices=sorted(RUNNERS), help="run only this SDK (repeatable)")
    parser.add_argument("--url", help="an already running fastreg (default: start one)")
    parser.add_argument("--key", default=os.environ.get("FASTREG_SANDBOX_KEY"), help="its sandbox key")
    parser.add_argument("--db", help="database URL for the started fastreg (default: SQLite in a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    chosen = [RUNNERS[name] for name in (args.sdk or RUNNERS)]

    @contextmanager
    def server() -> Iterator[tuple[str, str]]:
        if args.url:
            yield args.url.rstrip("/"), args.key or ""
        else:
            with live_fastreg(args.db) as started:
                yield started

    with server() as (url, key):
        results = [run(runner, url, key) for runner in chosen]
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
    return 0 if all(result.green for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
