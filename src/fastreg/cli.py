"""The ``fastreg`` command line (Typer). Commands work on the configured database directly, through the same
services as the web routes; ``fastreg sandbox ...`` (:mod:`fastreg.sandbox_cli`) talks to a running server over
HTTP instead. Configuration: ``FASTREG_*`` environment variables or ``.env``; ``--db URL`` overrides the
database. Heavy modules (SQLAlchemy, pydantic, the services) are imported by the commands that use them, so
every command, and ``--help``, starts quickly."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from fastreg.domain.model import PrincipalType
from fastreg.sandbox_cli import (
    AdminWxid,
    OaName,
    OperatorEmail,
    OperatorPassword,
    Overseas,
    PrincipalName,
    PrincipalTypeOption,
    Verified,
    parse_duration,
    sandbox_app,
)

if TYPE_CHECKING:
    from fastreg.platform import Platform
    from fastreg.settings import Settings


class _Fastreg(typer.Typer):
    """The ``fastreg`` command. ``fastreg sandbox ...`` runs the sandbox group as the root command: Typer builds
    every command of the tree (and their parameters) before it parses one, and the group's own settings (plain
    help) apply."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and sys.argv[1:2] == ["sandbox"]:
            return sandbox_app(args=sys.argv[2:], prog_name="fastreg sandbox")
        return super().__call__(*args, **kwargs)


app = _Fastreg(
    name="fastreg",
    help="fastreg: fast registration of Mini Programs reusing an Official Account's qualification "
    "(WeChat-compatible Open Platform API, web console and sandbox).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
oa_app = typer.Typer(help="Official Accounts in the sandbox.", no_args_is_help=True)
user_app = typer.Typer(
    help="WeChat users who answer confirmations on the phone page (production).", no_args_is_help=True
)
clock_app = typer.Typer(help="The sandbox clock (shown without a subcommand).", invoke_without_command=True)
app.add_typer(db_app, name="db")
app.add_typer(oa_app, name="oa")
app.add_typer(user_app, name="user")
app.add_typer(clock_app, name="clock")
app.add_typer(sandbox_app, name="sandbox")

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default FASTREG_DATABASE_URL or sqlite:///./var/fastreg.db).")
]
T = TypeVar("T")
P = ParamSpec("P")


@app.callback()
def main(ctx: typer.Context, db: DbOption = None) -> None:
    ctx.obj = {"db": db}


def settings_of(ctx: typer.Context, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    from fastreg.settings import Settings

    db = (ctx.find_root().obj or {}).get("db")
    if db:
        overrides.setdefault("database_url", db)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**overrides)
    except ValidationError as error:  # e.g. an unknown FASTREG_PLATFORM_VERSION: refused before anything starts
        reasons = "; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())
        fail(f"invalid settings: {reasons}")
        raise AssertionError("unreachable") from None


def migrate(database_url: str, revision: str = "head") -> None:
    """Alembic upgrade to ``revision`` (creating the SQLite file's directory first)."""
    from sqlalchemy.engine import make_url

    from fastreg.adapters.db.engine import normalize_url
    from fastreg.adapters.db.migrate import upgrade

    url = make_url(normalize_url(database_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    upgrade(database_url, revision)


@contextmanager
def opened(ctx: typer.Context, *, sandbox_only: bool = False, migrated: bool = True) -> Iterator[Platform]:
    from fastreg.adapters.db.migrate import current_revision
    from fastreg.platform import build_platform

    settings = settings_of(ctx)
    if sandbox_only and not settings.is_sandbox:
        fail("this command is for the sandbox; FASTREG_MODE is production")
    platform = build_platform(settings)
    try:
        if migrated and current_revision(platform.engine) is None:
            fail("the database is not migrated yet: run `fastreg db upgrade` (or `fastreg serve`)")
        yield platform
    finally:
        platform.engine.dispose()


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def execute(platform: Platform, use_case: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a use case through the runner (:mod:`fastreg.runner`), as the web routes do."""
    from fastreg.runner import Runner

    async def main() -> T:
        runner = Runner(platform)
        try:
            return await runner.run(use_case, *args, **kwargs)
        finally:
            await runner.close()

    return asyncio.run(main())


def run(platform: Platform, use_case: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a use case (:func:`execute`), turning its refusals into an error message and exit status 1."""
    from fastreg.domain.errors import DomainError
    from fastreg.services.sandbox import SandboxError

    try:
        return execute(platform, use_case, *args, **kwargs)
    except SandboxError as exc:
        fail(exc.message)
    except DomainError as exc:
        fail(f"{exc.errcode} {exc.message('en')}")
    raise AssertionError("unreachable")


def emit(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- serve


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (they share the database).")] = 1,
) -> None:
    """Migrate the database, seed the demo data when it is empty, print the console URL, demo logins and
    sandbox key, then serve the console and the APIs."""
    import uvicorn
    from sqlalchemy.exc import IntegrityError

    from fastreg.domain.errors import DomainError
    from fastreg.platform import build_platform, sandbox_key
    from fastreg.services import demo

    overrides: dict[str, Any] = {}
    if db:
        overrides["database_url"] = db
    settings = settings_of(ctx, **overrides)
    ensure_port_free(host, port)  # before anything is printed or migrated
    settings = settings.model_copy(update={"public_url": served_url(settings, host, port)})
    migrate(settings.database_url)
    platform = build_platform(settings)
    try:
        if settings.is_sandbox and execute(platform, demo.is_empty, platform):
            # Another host seeding the same database at the same moment is fine.
            with contextlib.suppress(DomainError, IntegrityError):
                execute(platform, demo.seed, platform)
        data = execute(platform, demo.current, platform) if settings.is_sandbox else None
    finally:
        platform.engine.dispose()

    console_url = settings.public_url.rstrip("/")
    typer.echo(f"fastreg {settings.mode} mode, database {_safe_url(settings.database_url)}")
    typer.echo(f"Console:      {console_url}/login")
    typer.echo(f"Open API:     {console_url}/cgi-bin/...")
    if settings.is_sandbox:
        typer.echo(f"Sandbox API:  {console_url}/sandbox/v1  (header X-Sandbox-Key)")
        typer.echo(f"Sandbox key:  {sandbox_key(settings)}")
    if data is not None:
        typer.echo(demo.describe(data, console_url))
    sys.stdout.flush()

    # Workers build the app from the environment (no in-process state is shared), so pass the settings on.
    os.environ["FASTREG_DATABASE_URL"] = settings.database_url
    os.environ["FASTREG_PUBLIC_URL"] = settings.public_url
    os.environ["FASTREG_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "fastreg.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


def served_url(settings: Settings, host: str | None, port: int | None) -> str:
    """Where the console is reached: FASTREG_PUBLIC_URL when configured, else the address served (a wildcard
    address shown as loopback, an IPv6 address in brackets), else the default public URL."""
    if "public_url" in settings.model_fields_set or (host is None and port is None):
        return settings.public_url.rstrip("/")
    host = host or "127.0.0.1"
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port or 8000}"


def ensure_port_free(host: str, port: int) -> None:
    """Fail with a clear message when HOST:PORT cannot be listened on (another server holds it, or the address
    is not this machine's), instead of printing the banner and then a traceback from uvicorn."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            reason = "the port is already in use (another fastreg or server?); choose another with --port"
        fail(f"cannot listen on {host}:{port}: {reason}")


def _safe_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", url)


# ---------------------------------------------------------------- db


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the migrations up to REVISION (default head)."""
    from fastreg.adapters.db.migrate import current_revision

    migrate(settings_of(ctx).database_url, revision)
    with opened(ctx) as platform:
        typer.echo(f"database at revision {current_revision(platform.engine)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the database's migration revision ("none" when not migrated)."""
    from fastreg.adapters.db.migrate import current_revision

    with opened(ctx, migrated=False) as platform:
        typer.echo(current_revision(platform.engine) or "none")


# ---------------------------------------------------------------- demo


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="The host `fastreg serve` listens on (for the printed URL).")] = None,
    port: Annotated[int | None, typer.Option(help="The port `fastreg serve` listens on (for the printed URL).")] = None,
) -> None:
    """Seed the demo accounts (idempotent) and print their credentials, with the console URL of the server
    (FASTREG_PUBLIC_URL, or --host/--port as given to `fastreg serve`)."""
    from fastreg.services import demo

    settings = settings_of(ctx)
    if not settings.is_sandbox:
        fail("demo accounts have known passwords; they are for the sandbox only")
    migrate(settings.database_url)
    with opened(ctx) as platform:
        data = run(platform, demo.seed, platform)
        typer.echo(demo.describe(data, served_url(settings, host, port)))


# ---------------------------------------------------------------- official accounts


@oa_app.command("create")
def oa_create(
    ctx: typer.Context,
    name: OaName,
    principal_name: PrincipalName,
    principal_type: PrincipalTypeOption = PrincipalType.ENTERPRISE,
    verified: Verified = True,
    overseas: Overseas = False,
    admin_wxid: AdminWxid = None,
    operator_email: OperatorEmail = None,
    operator_password: OperatorPassword = None,
) -> None:
    """Create an Official Account; prints appid, secret, original_id, admin wxid and operator login as JSON."""
    from fastreg.domain.rules import validate_wxid
    from fastreg.services.accounts import create_official_account
    from fastreg.services.sandbox import ensure_principal_type

    with opened(ctx, sandbox_only=True) as platform:

        def create() -> dict[str, Any]:
            if admin_wxid is not None:
                validate_wxid(admin_wxid)
            ensure_principal_type(platform, principal_name, principal_type.value)
            created = create_official_account(
                platform,
                name=name,
                principal_name=principal_name,
                principal_type=principal_type.value,
                verified=verified,
                overseas=overseas,
                admin_wxid=admin_wxid,
                operator_email=operator_email,
                operator_password=operator_password,
            )
            return asdict(created)

        emit(run(platform, create))


@oa_app.command("show")
def oa_show(ctx: typer.Context, appid: str) -> None:
    """Show an Official Account: principal, verification, this month's quota, pending registration, links."""
    from fastreg.services.sandbox import official_account_overview

    with opened(ctx) as platform:
        emit(run(platform, official_account_overview, platform, appid))


# ---------------------------------------------------------------- WeChat users (production)


@contextmanager
def production_platform(ctx: typer.Context) -> Iterator[Platform]:
    with opened(ctx) as platform:
        if platform.settings.is_sandbox:
            fail("the sandbox's phone page takes the wxid as declared; WeChat users are for FASTREG_MODE=production")
        yield platform


def emit_enrolment(created: Any) -> None:
    emit({"wxid": created.wxid, "enrolment_url": created.enrolment_url, "expires_at": created.expires_at})


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    wxid: Annotated[str, typer.Option(help="The person's WeChat id (the wxid confirmations wait for).")],
) -> None:
    """Create a WeChat user and print the one-time link through which the person sets a password on the phone."""
    from fastreg.services import wechat_users

    with production_platform(ctx) as platform:
        try:
            emit_enrolment(run(platform, wechat_users.create, platform, wxid))
        except wechat_users.WechatUserExists as exc:
            fail(f"{exc}; `fastreg user link --wxid {exc.wxid}` prints a new enrolment link")


@user_app.command("link")
def user_link(
    ctx: typer.Context,
    wxid: Annotated[str, typer.Option(help="The WeChat user's wxid.")],
) -> None:
    """Print a new enrolment link for an existing WeChat user (a forgotten password); older unused links stop
    working, and setting the new password ends the user's phone sessions."""
    from fastreg.services import wechat_users

    with production_platform(ctx) as platform:
        emit_enrolment(run(platform, wechat_users.new_enrolment_link, platform, wxid))


# ---------------------------------------------------------------- confirmations, mail


@app.command()
def confirm(
    ctx: typer.Context,
    url_or_id: Annotated[str, typer.Argument(metavar="URL_OR_ID", help="The URL decoded from a QR code, or its id.")],
    wxid: Annotated[str, typer.Option(help="Who answers (must be the person the confirmation waits for).")],
    cancel: Annotated[bool, typer.Option("--cancel", help="Cancel instead of confirming.")] = False,
) -> None:
    """Answer a confirmation as the phone user WXID would; prints its status and redirect URL."""
    from fastreg.services import confirmations

    with opened(ctx, sandbox_only=True) as platform:

        def answer() -> dict[str, Any]:
            result = confirmations.answer(
                platform,
                confirmations.id_from_url(url_or_id.strip()),
                wxid,
                confirmations.CANCEL if cancel else confirmations.CONFIRM,
            )
            return {"status": result.status, "redirect_url": result.redirect_url}

        emit(run(platform, answer))


@app.command()
def mail(
    ctx: typer.Context, to: Annotated[str | None, typer.Option(help="Only mail sent to this address.")] = None
) -> None:
    """List the emails fastreg sent, as delivered to the embedded SMTP server (the sandbox outbox)."""
    from fastreg.services.sandbox import outbox

    with opened(ctx) as platform:
        emit(run(platform, outbox, platform, to))


# ---------------------------------------------------------------- clock


def parse_instant(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter("use ISO-8601, e.g. 2026-11-30T16:00:00Z") from None
    if at.tzinfo is None:
        raise typer.BadParameter("give a time zone, e.g. 2026-11-30T16:00:00Z")
    return at


@clock_app.callback()
def clock_show(ctx: typer.Context) -> None:
    """Show the sandbox clock."""
    if ctx.invoked_subcommand is None:
        from fastreg.services.sandbox import get_clock

        with opened(ctx) as platform:
            emit(run(platform, get_clock, platform).as_json())


@clock_app.command("set")
def clock_set(ctx: typer.Context, at: Annotated[str, typer.Argument(metavar="ISO_TIME")]) -> None:
    """Freeze the clock at ISO_TIME (e.g. 2026-11-30T16:00:00Z)."""
    from fastreg.services.sandbox import set_clock

    instant = parse_instant(at)
    with opened(ctx, sandbox_only=True) as platform:
        emit(run(platform, set_clock, platform, now=instant).as_json())


@clock_app.command("advance")
def clock_advance(ctx: typer.Context, duration: Annotated[str, typer.Argument(metavar="DURATION")]) -> None:
    """Move the clock by DURATION: seconds, or 15m, 2h, 7d (frozen clocks stay frozen)."""
    from fastreg.services.sandbox import set_clock

    seconds = parse_duration(duration)
    with opened(ctx, sandbox_only=True) as platform:
        emit(run(platform, set_clock, platform, advance_seconds=seconds).as_json())


@clock_app.command("real")
def clock_real(ctx: typer.Context) -> None:
    """Back to real time."""
    from fastreg.services.sandbox import set_clock

    with opened(ctx, sandbox_only=True) as platform:
        emit(run(platform, set_clock, platform, real=True).as_json())


if __name__ == "__main__":  # pragma: no cover
    app()
