"""``fastreg sandbox ...``: the sandbox control API of a running server, over HTTP (like ``awslocal``).

The server is ``--url`` (or ``FASTREG_URL``, default http://127.0.0.1:8000) and its key ``--key`` (or
``FASTREG_SANDBOX_KEY``). Every command prints the server's JSON answer; a refusal prints the server's error
code and message on stderr and exits with status 1. This module imports only Typer and the standard library
(the calls go through ``urllib.request``: importing httpx took longer than the rest of a command), so each
command starts quickly; it never touches the database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fastreg.domain.model import PrincipalType

if TYPE_CHECKING:
    from fastreg.sandbox_calls import SandboxCalls

URL_VARIABLE, KEY_VARIABLE = "FASTREG_URL", "FASTREG_SANDBOX_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"

# Run as the root command (`fastreg sandbox ...` is dispatched straight here, see fastreg.cli), the group's
# settings apply: help in click's plain format (Typer's rich one imports rich, a third of the CPU time of
# `--help`), no completion options, no rich tracebacks.
sandbox_app = typer.Typer(
    help="The sandbox API of a running server over HTTP (--url/--key or FASTREG_URL/FASTREG_SANDBOX_KEY); prints JSON.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)
clock_app = typer.Typer(help="The sandbox clock (shown without a subcommand).", invoke_without_command=True)
oa_app = typer.Typer(help="Official Accounts.", no_args_is_help=True)
component_app = typer.Typer(help="Third-party platforms (components).", no_args_is_help=True)
faults_app = typer.Typer(help="Faults injected into the Open API.", no_args_is_help=True)
sandbox_app.add_typer(clock_app, name="clock")
sandbox_app.add_typer(oa_app, name="oa")
sandbox_app.add_typer(component_app, name="component")
sandbox_app.add_typer(faults_app, name="faults")


@sandbox_app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(envvar=URL_VARIABLE, help="The fastreg server.")] = DEFAULT_URL,
    key: Annotated[
        str | None, typer.Option(envvar=KEY_VARIABLE, help="Its sandbox key (printed by `fastreg serve`).")
    ] = None,
) -> None:
    ctx.obj = {"url": url.rstrip("/"), "key": key}


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def connection(ctx: typer.Context) -> tuple[str, str | None]:
    """The server's URL and key, from the ``sandbox`` group's options."""
    current: Any = ctx
    while current is not None:
        if isinstance(current.obj, dict) and "url" in current.obj:
            return current.obj["url"], current.obj["key"]
        current = current.parent
    return DEFAULT_URL, None


def call(ctx: typer.Context, request: Callable[[SandboxCalls], Any]) -> None:
    """Run one request against the server and print its answer as JSON (a refusal: its code and message)."""
    from fastreg.sandbox_calls import SandboxRefusal, SandboxUnreachable, UrllibSandboxClient

    url, key = connection(ctx)
    if not key:
        fail(f"no sandbox key: give --key or set {KEY_VARIABLE} (`fastreg serve` prints it)")
        return
    try:
        answer = request(UrllibSandboxClient(url, key))
    except SandboxRefusal as refused:
        fail(f"{refused.code}: {refused.message} (HTTP {refused.status})")
    except SandboxUnreachable as error:
        fail(f"no fastreg server answers at {url}: {error}")
    typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------- reset, clock

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> float:
    """Seconds from ``3600``, ``90s``, ``15m``, ``2h`` or ``7d`` (negative moves back)."""
    match = _DURATION.match(value.lower())
    if not match:
        raise typer.BadParameter("use seconds or a number with s, m, h or d (e.g. 3600, 15m, 2h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@sandbox_app.command()
def reset(ctx: typer.Context) -> None:
    """Wipe every account, registration, token, mail and fault (the key stays)."""
    call(ctx, lambda client: client.reset())


@clock_app.callback()
def clock_show(ctx: typer.Context) -> None:
    """Show the sandbox clock."""
    if ctx.invoked_subcommand is None:
        call(ctx, lambda client: client.get_clock())


@clock_app.command("get")
def clock_get(ctx: typer.Context) -> None:
    """Show the sandbox clock: now, and whether it is frozen."""
    call(ctx, lambda client: client.get_clock())


@clock_app.command("set")
def clock_set(ctx: typer.Context, at: Annotated[str, typer.Argument(metavar="ISO_TIME")]) -> None:
    """Freeze the clock at ISO_TIME (e.g. 2026-11-30T16:00:00Z)."""
    call(ctx, lambda client: client.set_clock(now=at))


@clock_app.command("advance")
def clock_advance(ctx: typer.Context, duration: Annotated[str, typer.Argument(metavar="DURATION")]) -> None:
    """Move the clock by DURATION: seconds, or 15m, 2h, 7d (frozen clocks stay frozen)."""
    seconds = parse_duration(duration)
    call(ctx, lambda client: client.set_clock(advance_seconds=seconds))


@clock_app.command("real")
def clock_real(ctx: typer.Context) -> None:
    """Back to real time."""
    call(ctx, lambda client: client.set_clock(real=True))


# ---------------------------------------------------------------- accounts and components


def given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


# The options of `oa create` (also used by the database-level `fastreg oa create`).
OaName = Annotated[str, typer.Option(help="The OA's name.")]
PrincipalName = Annotated[str, typer.Option(help="Its principal (created when new).")]
PrincipalTypeOption = Annotated[PrincipalType, typer.Option(help="The principal's type.")]
Verified = Annotated[bool, typer.Option("--verified/--unverified", help="微信认证 passed.")]
Overseas = Annotated[bool, typer.Option(help="An overseas account.")]
AdminWxid = Annotated[str | None, typer.Option(help="The admin's wxid (generated when absent).")]
OperatorEmail = Annotated[str | None, typer.Option(help="Console login (generated when absent).")]
OperatorPassword = Annotated[str | None, typer.Option(help="Console password (generated when absent).")]


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
    """Create an Official Account: its appid, secret, original_id, admin wxid and console login."""
    body = given(
        name=name,
        principal_name=principal_name,
        principal_type=principal_type.value,
        verified=verified,
        overseas=overseas,
        admin_wxid=admin_wxid,
        operator_email=operator_email,
        operator_password=operator_password,
    )
    call(ctx, lambda client: client.create_official_account(**body))


@oa_app.command("show")
def oa_show(ctx: typer.Context, appid: str) -> None:
    """An Official Account: principal, verification, this month's quota, pending registration, links."""
    call(ctx, lambda client: client.official_account(appid))


@component_app.command("create")
def component_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="The platform's name.")],
    redirect_domain: Annotated[str, typer.Option(help="The domain its redirect_uri must be on.")],
    callback_url: Annotated[str | None, typer.Option(help="Where pushes (tickets, events) go.")] = None,
    published: Annotated[bool, typer.Option("--published/--unpublished", help="Released (全网发布).")] = True,
    permission_set: Annotated[list[int] | None, typer.Option(help="A permission set id (repeat; default all).")] = None,
) -> None:
    """Create a component: its appid, secret, token, EncodingAESKey and first component_verify_ticket."""
    body = given(
        name=name,
        redirect_domain=redirect_domain,
        callback_url=callback_url,
        published=published,
        permission_sets=permission_set or None,
    )
    call(ctx, lambda client: client.create_component(**body))


@sandbox_app.command("verify-ticket")
def verify_ticket(ctx: typer.Context, component_appid: Annotated[str, typer.Argument(metavar="APPID")]) -> None:
    """Issue (and push) a fresh component_verify_ticket."""
    call(ctx, lambda client: {"component_verify_ticket": client.issue_verify_ticket(component_appid)})


@sandbox_app.command()
def authorize(ctx: typer.Context, component_appid: str, authorizer_appid: str) -> None:
    """An authorization_code of AUTHORIZER_APPID for COMPONENT_APPID (the consent page's shortcut)."""
    call(ctx, lambda client: client.authorize(component_appid, authorizer_appid))


# ---------------------------------------------------------------- confirmations, mail


@sandbox_app.command()
def confirmations(
    ctx: typer.Context,
    wxid: Annotated[str, typer.Option(help="The person they wait for.")],
    status: Annotated[str, typer.Option(help="pending, confirmed, cancelled, expired or all.")] = "pending",
) -> None:
    """The confirmations waiting for a person (their ids and URLs)."""
    call(ctx, lambda client: client.confirmations(wxid, status))


@sandbox_app.command()
def scan(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="The URL decoded from a QR code.")],
    wxid: Annotated[str, typer.Option(help="Who scans it.")],
    action: Annotated[str, typer.Option(help="confirm or cancel.")] = "confirm",
) -> None:
    """Scan a QR code's URL as the phone user WXID and answer it: its status and redirect URL."""
    call(ctx, lambda client: client.scan(url, wxid, action))


@sandbox_app.command()
def mail(
    ctx: typer.Context, to: Annotated[str | None, typer.Option(help="Only mail sent to this address.")] = None
) -> None:
    """The emails fastreg sent (the sandbox outbox)."""
    call(ctx, lambda client: client.mail(to))


# ---------------------------------------------------------------- faults


@faults_app.command("add")
def faults_add(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="The Open API route, e.g. /cgi-bin/account/fastregister.")],
    appid: Annotated[str | None, typer.Option(help="Only calls for this appid.")] = None,
    times: Annotated[int, typer.Option(help="How many calls it hits.")] = 1,
    errcode: Annotated[int | None, typer.Option(help="Answer this errcode instead of running the call.")] = None,
    http_status: Annotated[int | None, typer.Option(help="Answer with this HTTP status.")] = None,
    delay_ms: Annotated[int | None, typer.Option(help="Delay the answer.")] = None,
    after_commit: Annotated[str | None, typer.Option(help="drop or timeout: run and commit, then fail.")] = None,
) -> None:
    """Inject a fault into the next calls of an Open API route; prints its id."""
    fields = given(appid=appid, errcode=errcode, http_status=http_status, delay_ms=delay_ms, after_commit=after_commit)
    call(ctx, lambda client: client.add_fault(path, times=times, **fields))


@faults_app.command("list")
def faults_list(ctx: typer.Context) -> None:
    """The faults waiting for calls."""
    call(ctx, lambda client: client.faults())


@faults_app.command("clear")
def faults_clear(
    ctx: typer.Context, fault_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="Only this one.")] = None
) -> None:
    """Remove every fault, or the one with ID."""
    call(ctx, lambda client: client.delete_fault(fault_id) if fault_id else client.clear_faults())
