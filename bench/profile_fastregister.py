"""Profile fastreg's ``POST /cgi-bin/account/fastregister`` under load with py-spy (``pip install py-spy``).

Prepares tickets through the services layer, starts fastreg (uvicorn, one worker), samples it with
``py-spy record --gil`` (only the thread holding the GIL: where the CPU goes, not where threads wait) while the
tickets are spent, and prints the functions with the most samples (inclusive and self).

    .venv/bin/python bench/profile_fastregister.py --db sqlite --tickets 2000
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Call,
    bench_platform,
    database,
    issue_ticket,
    machine,
    make_fixture,
    migrate,
    register_history,
    run_calls,
    settle_database,
    start_fastreg,
)

QUOTA = 5


def summarize(raw: Path, top: int) -> None:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        total += count
        seen = set()
        for frame in frames:
            name = frame.split(" (", 1)[0] + " (" + frame.split(" (", 1)[-1].split(":")[0].rsplit("/", 1)[-1]
            if name not in seen:
                inclusive[name] += count
                seen.add(name)
        if frames:
            last = frames[-1]
            own[last.split(" (", 1)[0] + " (" + last.split(" (", 1)[-1].split(":")[0].rsplit("/", 1)[-1]] += count
    print(f"\n{total} samples")
    print("\ninclusive (function (file): share of samples)")
    for name, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name}")
    print("\nself")
    for name, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=45)
    parser.add_argument("--idle", action="store_true", help="include idle threads (waiting for locks, sleeping)")
    parser.add_argument("--native", action="store_true", help="include C frames (libpq, the kernel)")
    parser.add_argument("--out", default="/tmp/fastreg-profile")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    print(f"machine: {machine()}")
    with database(args.db) as url:
        migrate(url)
        data_dir = tempfile.mkdtemp(prefix="fastreg-profile-")
        platform = bench_platform(url, data_dir)
        fixture = make_fixture(platform, -(-args.tickets // QUOTA))
        calls = []
        for oa in fixture.dealt(args.tickets, QUOTA):
            ticket = issue_ticket(platform, fixture, oa)
            calls.append(
                Call(
                    "POST",
                    f"/cgi-bin/account/fastregister?access_token={oa.token}",
                    json.dumps({"ticket": ticket}).encode(),
                )
            )
        register_history(platform)
        platform.engine.dispose()
        settle_database(url)
        server = start_fastreg(url, data_dir)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        raw = out / f"fastregister-{args.db}.txt"
        command = [
            py_spy,
            "record",
            "--gil",
            "--format",
            "raw",
            "-o",
            str(raw),
            "-r",
            "200",
            "-p",
            str(server.process.pid),
        ]
        if args.idle:
            command.append("--idle")
        if args.native:
            command.append("--native")
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        try:
            result = run_calls(server.base_url, calls, connections=args.connections)
        finally:
            time.sleep(0.5)
            spy.send_signal(2)
            spy.wait(timeout=30)
            server.stop()
        print(
            f"{args.db}: {result.ok} of {result.requests} registered in {result.seconds:.1f} s "
            f"= {result.ok_rate:,.0f}/s "
            f"(p50 {result.percentile(50) * 1000:.1f} ms, p99 {result.percentile(99) * 1000:.1f} ms) under py-spy"
        )
        summarize(raw, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
