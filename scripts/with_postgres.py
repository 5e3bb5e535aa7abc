"""Run a command with a PostgreSQL server for the tests, the way pytest-postgresql does it.

``python scripts/with_postgres.py CMD...``: when the server of ``FASTREG_TEST_POSTGRES_URL`` answers (a login,
not only an open port), CMD runs against it unchanged. Otherwise a throw-away cluster is made with the installed
PostgreSQL binaries (Debian's ``postgresql`` package is installed first when there are none and apt-get may be
used), started on a free loopback port with trust authentication, and CMD runs with
``FASTREG_TEST_POSTGRES_URL`` pointing at it; the cluster is stopped and deleted afterwards. Its exit status is
CMD's. Only the standard library and psycopg (in the project's virtualenv) are used.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SERVER_SETTINGS = {
    # A test cluster: speed over durability (the server itself is never killed by the tests).
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "128MB",
    "listen_addresses": "'127.0.0.1'",
}


def say(message: str) -> None:
    print(f"with_postgres: {message}", file=sys.stderr, flush=True)


def answers(url: str) -> bool:
    """True when a login at ``url`` succeeds (another cluster on the port with other credentials is not ours)."""
    import psycopg

    parts = urlsplit(url.replace("+psycopg", ""))
    try:
        psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password,
            dbname=parts.path.lstrip("/") or "postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error:
        return False
    return True


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def install_postgres() -> None:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        say("PostgreSQL is not installed and apt-get needs root: apt-get install postgresql")
        return
    say("installing Debian's postgresql with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "postgresql"], check=False, env=env, stdout=subprocess.DEVNULL
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_cluster_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as Debian's ``postgres`` user then."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def start_cluster(bindir: Path, datadir: Path, port: int) -> None:
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(datadir, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        as_cluster_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())
    subprocess.run(
        as_cluster_owner(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(datadir),
                "-l",
                str(datadir / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {datadir} {options}",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"], check=True)


def stop_cluster(bindir: Path, datadir: Path) -> None:
    subprocess.run(
        as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(datadir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv:
        say("usage: with_postgres.py COMMAND [ARGS...]")
        return 2
    url = os.environ.get("FASTREG_TEST_POSTGRES_URL", DEFAULT_URL)
    if answers(url):
        return subprocess.call(argv)
    bindir = postgres_bin()
    if bindir is None:
        install_postgres()
        bindir = postgres_bin()
    if bindir is None:
        say("no PostgreSQL binaries: its tests are skipped (or fail with FASTREG_REQUIRE_POSTGRES=1)")
        return subprocess.call(argv)
    # A TERM (CI's time limit, a killed make) still stops and deletes the cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    datadir = Path(tempfile.mkdtemp(prefix="fastreg-pg-"))
    os.chmod(datadir, 0o700)
    port = free_port()
    try:
        start_cluster(bindir, datadir, port)
        test_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
        say(f"started a PostgreSQL cluster for this run at {test_url} ({bindir})")
        return subprocess.call(argv, env={**os.environ, "FASTREG_TEST_POSTGRES_URL": test_url})
    finally:
        stop_cluster(bindir, datadir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
