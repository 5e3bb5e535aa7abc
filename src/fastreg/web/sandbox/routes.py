"""The sandbox control API (``/sandbox/v1``), included by the app in sandbox mode only.

Every route requires ``X-Sandbox-Key``; a missing or wrong key gets 401. Errors, including request validation
errors, are ``{"error": {"code", "message"}}`` with an HTTP status (400/401/403/404/409/422)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fastreg.domain.clock import in_supported_range, range_error
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.faults import FaultSpec
from fastreg.domain.model import PrincipalType
from fastreg.domain.rules import validate_wxid
from fastreg.platform import Platform
from fastreg.platform import sandbox_key as configured_sandbox_key
from fastreg.sandbox_calls import KEY_HEADER
from fastreg.services import faults, sandbox, verification, versions
from fastreg.services.accounts import create_component, create_official_account
from fastreg.services.sandbox import SandboxError
from fastreg.web.deps import PlatformDep, RunnerDep
from fastreg.web.inputs import BadInput, load_json

# How domain refusals show in the sandbox API: (HTTP status, error code).
DOMAIN_STATUS: dict[Err, tuple[int, str]] = {
    Err.NOT_ALLOWED: (403, "not_allowed"),
    Err.CONFIRMATION_CLOSED: (409, "confirmation_closed"),
    Err.NOT_FOUND: (404, "not_found"),
    Err.INVALID_APPID: (404, "not_found"),
    Err.EMAIL_TAKEN: (409, "email_taken"),
    Err.EMAIL_INVALID: (422, "invalid_email"),
    Err.EMAIL_PERSONAL_WECHAT: (409, "email_bound_to_personal_wechat"),
    Err.PASSWORD_WEAK: (422, "weak_password"),
    Err.WXID_INVALID: (422, "invalid_wxid"),
    Err.INVALID_PARAMETER: (422, "invalid_request"),
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def bad_input_response(_request: Request, error: BadInput) -> JSONResponse:
    if error.malformed:
        return error_response(400, "invalid_json", error.reason)
    return error_response(422, "invalid_request", error.reason)


async def _body_refusal(request: Request) -> JSONResponse | None:
    """The body checked before FastAPI parses it (which it reads again from the request's cache)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        load_json(raw)
    except BadInput as error:
        return bad_input_response(request, error)
    return None


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    parts = []
    for error in errors:
        loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        msg = str(error.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return error_response(422, "invalid_request", "; ".join(parts) or "invalid request")


def _expected_key(request: Request) -> str:
    key: str | None = getattr(request.app.state, "sandbox_key", None)
    if key is None:
        platform: Platform = request.app.state.platform
        key = configured_sandbox_key(platform.settings)
        request.app.state.sandbox_key = key
    return key


class SandboxRoute(APIRoute):
    """Checks the sandbox key before anything else, and answers every refusal in the sandbox error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            expected, given = _expected_key(request), request.headers.get(KEY_HEADER)
            if not given or not secrets.compare_digest(given.encode(), expected.encode()):
                return error_response(401, "unauthorized", f"missing or wrong {KEY_HEADER} header")
            refusal = await _body_refusal(request)
            if refusal is not None:
                return refusal
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _validation_response(exc)
            except SandboxError as exc:
                return error_response(exc.status, exc.code, exc.message)
            except DomainError as exc:
                status, code = DOMAIN_STATUS.get(exc.err, (409, exc.err.name.lower()))
                return error_response(status, code, exc.message("en"))

        return route


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, not_allowed, invalid_request")
    message: str = Field(description="what went wrong, in English")


class ErrorBody(BaseModel):
    """Every refusal of the sandbox API (never FastAPI's ``{"detail": ...}``)."""

    error: ErrorDetail


_ERROR_MEANINGS = {
    400: "the body is not valid JSON (invalid_json)",
    401: f"missing or wrong {KEY_HEADER} (unauthorized)",
    403: "this wxid may not answer it (not_allowed)",
    404: "no such account, component, confirmation or fault (not_found)",
    409: "conflicts with the current state, e.g. an answered or expired confirmation (confirmation_closed)",
    422: "a field is missing or invalid (invalid_request and others)",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of refusals with these statuses, in the sandbox's error shape."""
    return {status: {"model": ErrorBody, "description": _ERROR_MEANINGS[status]} for status in statuses}


sandbox_key = APIKeyHeader(
    name=KEY_HEADER,
    scheme_name="SandboxKey",
    description="FASTREG_SANDBOX_KEY, or the key `fastreg serve` generated and printed",
    auto_error=False,  # SandboxRoute checks it first and answers 401 in the sandbox's error shape
)
router = APIRouter(
    prefix="/sandbox/v1",
    tags=["sandbox"],
    route_class=SandboxRoute,
    strict_content_type=False,
    dependencies=[Security(sandbox_key)],
    responses=errors(400, 401, 422),
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- reset and clock


@router.post("/reset", summary="Wipe the sandbox")
async def reset(platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Wipes all accounts, registrations, tokens, mail, audit and faults; keeps the sandbox key."""
    seconds = await runner.run(sandbox.reset, platform)
    return {"status": "ok", "elapsed_ms": round(seconds * 1000, 3)}


class ClockOut(BaseModel):
    now: str
    frozen: bool


class ClockIn(Body):
    now: datetime | None = Field(default=None, description="freeze the clock at this instant (ISO-8601)")
    advance_seconds: float | None = Field(
        default=None, allow_inf_nan=False, description="move the clock forward (or back) by N seconds"
    )
    real: bool | None = Field(default=None, description="true: back to real time")

    @model_validator(mode="after")
    def _one_of(self) -> ClockIn:
        given = [self.now is not None, self.advance_seconds is not None, self.real is not None]
        if sum(given) != 1:
            raise ValueError("give exactly one of now, advance_seconds, real")
        if self.real is False:
            raise ValueError("real must be true")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now needs a time zone (e.g. 2026-11-30T16:00:00Z)")
        return self


@router.get("/clock", response_model=ClockOut, summary="Read the clock")
async def get_clock(platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """The sandbox's current time (every rule uses it) and whether it is frozen."""
    return (await runner.run(sandbox.get_clock, platform)).as_json()


@router.put("/clock", response_model=ClockOut, summary="Set, advance or release the clock")
async def put_clock(body: ClockIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Exactly one of ``now`` (freeze there), ``advance_seconds`` or ``real: true``."""
    view = await runner.run(
        sandbox.set_clock, platform, now=body.now, advance_seconds=body.advance_seconds, real=bool(body.real)
    )
    return view.as_json()


# ---------------------------------------------------------------- platform version


class PlatformVersionOut(BaseModel):
    version: str = Field(description="the WeChat behaviour in force in this sandbox")
    default: str = Field(description="FASTREG_PLATFORM_VERSION, which a reset returns to")


class PlatformVersionIn(Body):
    version: str = Field(min_length=1, max_length=32, examples=["2023-12-25"])


@router.get("/platform-version", response_model=PlatformVersionOut, summary="Read the platform version")
async def get_platform_version(platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """The WeChat behaviour in force, and the default a reset returns to."""
    return (await runner.run(versions.current, platform)).as_json()


@router.put("/platform-version", response_model=PlatformVersionOut, summary="Choose the platform version")
async def put_platform_version(body: PlatformVersionIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Make the sandbox answer as WeChat did from that version on (unknown versions: 422 unknown_version)."""
    try:
        return (await runner.run(versions.set_version, platform, body.version)).as_json()
    except ValueError as error:
        raise SandboxError(422, "unknown_version", str(error)) from None


# ---------------------------------------------------------------- official accounts and principals


class OfficialAccountIn(Body):
    name: str = Field(min_length=1, max_length=200)
    principal_name: str = Field(min_length=1, max_length=200)
    principal_type: PrincipalType
    verified: bool = True
    overseas: bool = False
    admin_wxid: str | None = Field(default=None, min_length=1, max_length=64)
    operator_email: str | None = Field(default=None, max_length=254)
    operator_password: str | None = Field(default=None, max_length=128)
    verify_expires_at: datetime | None = None

    @field_validator("verify_expires_at")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        if value is not None and not in_supported_range(value):
            raise ValueError(range_error("verify_expires_at"))
        return value


class OfficialAccountOut(BaseModel):
    appid: str
    secret: str
    original_id: str
    admin_wxid: str
    operator_email: str
    operator_password: str


@router.post(
    "/official-accounts",
    status_code=201,
    response_model=OfficialAccountOut,
    summary="Create an Official Account",
    responses=errors(409),
)
async def create_oa(body: OfficialAccountIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Its principal is created when new; appid, secret, admin wxid and console login are generated where not
    given."""
    return await runner.run(_create_oa, platform, body)


def _create_oa(platform: Platform, body: OfficialAccountIn) -> dict[str, Any]:
    if body.admin_wxid is not None:
        validate_wxid(body.admin_wxid)
    sandbox.ensure_principal_type(platform, body.principal_name, body.principal_type.value)
    created = create_official_account(
        platform,
        name=body.name,
        principal_name=body.principal_name,
        principal_type=body.principal_type.value,
        verified=body.verified,
        overseas=body.overseas,
        admin_wxid=body.admin_wxid,
        operator_email=body.operator_email,
        operator_password=body.operator_password,
        verify_expires_at=body.verify_expires_at,
        sandbox_only_cheap_password_hash=True,  # test accounts: fast to create
    )
    return asdict(created)


@router.get("/official-accounts/{appid}", summary="Show an Official Account", responses=errors(404))
async def get_oa(appid: str, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Principal, verification, this month's quota, pending registration and linked Mini Programs."""
    return await runner.run(sandbox.official_account_overview, platform, appid)


class PrincipalPatch(Body):
    blacklisted: bool


@router.patch("/principals/{name}", summary="Blacklist a principal", responses=errors(404))
async def patch_principal(name: str, body: PrincipalPatch, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """A blacklisted principal may not fast-register."""
    return await runner.run(sandbox.set_blacklisted, platform, name, body.blacklisted)


# ---------------------------------------------------------------- components


class ComponentIn(Body):
    name: str = Field(min_length=1, max_length=200)
    redirect_domain: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
    callback_url: str | None = Field(default=None, max_length=1000, pattern=r"^https?://")
    published: bool = True
    permission_sets: list[int] | None = None


class ComponentOut(BaseModel):
    component_appid: str
    component_appsecret: str
    token: str
    encoding_aes_key: str
    component_verify_ticket: str


@router.post("/components", status_code=201, response_model=ComponentOut, summary="Create a component")
async def create_component_route(body: ComponentIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """A third-party platform: appid, secret, token, EncodingAESKey and a first component_verify_ticket."""
    return await runner.run(_create_component, platform, body)


def _create_component(platform: Platform, body: ComponentIn) -> dict[str, Any]:
    created = create_component(
        platform,
        name=body.name,
        redirect_domain=body.redirect_domain,
        callback_url=body.callback_url,
        published=body.published,
        permission_sets=body.permission_sets,
    )
    return asdict(created)


@router.post("/components/{component_appid}/verify-ticket", summary="Issue a verify ticket", responses=errors(404))
async def new_verify_ticket(component_appid: str, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """A fresh component_verify_ticket, also pushed to the component's callback URL when it has one."""
    return {"component_verify_ticket": await runner.run(sandbox.issue_verify_ticket, platform, component_appid)}


class AuthorizationIn(Body):
    authorizer_appid: str = Field(min_length=1, max_length=18)


@router.post(
    "/components/{component_appid}/authorizations",
    summary="Authorize a component (consent shortcut)",
    responses=errors(404, 409),
)
async def authorize(
    component_appid: str, body: AuthorizationIn, platform: PlatformDep, runner: RunnerDep
) -> dict[str, Any]:
    """The authorizer grants the component its permission sets, as on the consent page; an authorization_code."""
    code = await runner.run(sandbox.authorize, platform, component_appid, body.authorizer_appid)
    return {"authorization_code": code, "expires_in": sandbox.AUTHORIZATION_CODE_TTL}


# ---------------------------------------------------------------- confirmations


class ConfirmationOut(BaseModel):
    id: str
    kind: str
    url: str
    account_appid: str
    account_name: str
    status: str
    created_at: str
    expires_at: str


@router.get("/confirmations", response_model=list[ConfirmationOut], summary="Confirmations waiting for a person")
async def list_confirmations(
    platform: PlatformDep,
    runner: RunnerDep,
    wxid: Annotated[str, Query(min_length=1, max_length=64)],
    status: Annotated[Literal["pending", "confirmed", "cancelled", "expired", "all"], Query()] = "pending",
) -> list[dict[str, Any]]:
    """The confirmations (QR codes) addressed to ``wxid``, pending by default."""
    from fastreg.services import confirmations

    views = await runner.run(confirmations.list_for, platform, wxid, None if status == "all" else status)
    return [
        {
            "id": v.id,
            "kind": v.kind,
            "url": v.url,
            "account_appid": v.account_appid,
            "account_name": v.account_name,
            "status": v.status,
            "created_at": sandbox.utc_iso(v.created_at),
            "expires_at": sandbox.utc_iso(v.expires_at),
        }
        for v in views
    ]


class AnswerIn(Body):
    wxid: str = Field(min_length=1, max_length=64)
    action: Literal["confirm", "cancel"]


class ScanIn(AnswerIn):
    url: str = Field(min_length=1, max_length=2000)


class AnswerOut(BaseModel):
    status: str
    redirect_url: str | None


def _answer(platform: Platform, confirmation_id: str, wxid: str, action: str) -> dict[str, Any]:
    from fastreg.services import confirmations

    result = confirmations.answer(platform, confirmation_id, wxid, action)
    return {"status": result.status, "redirect_url": result.redirect_url}


@router.post(
    "/confirmations/{confirmation_id}",
    response_model=AnswerOut,
    summary="Answer a confirmation",
    responses=errors(403, 404, 409),
)
async def answer_confirmation(
    confirmation_id: str, body: AnswerIn, platform: PlatformDep, runner: RunnerDep
) -> dict[str, Any]:
    """Confirm or cancel as the phone user ``wxid``; a confirmed fast registration's redirect_url carries the
    ticket."""
    return await runner.run(_answer, platform, confirmation_id, body.wxid, body.action)


@router.post("/scans", response_model=AnswerOut, summary="Scan a QR code", responses=errors(403, 404, 409))
async def scan(body: ScanIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Answer the confirmation a QR code's URL points to, as the phone user ``wxid``."""
    from fastreg.services import confirmations

    return await runner.run(_answer, platform, confirmations.id_from_url(body.url.strip()), body.wxid, body.action)


# ---------------------------------------------------------------- 代认证 review orders


class ReviewIn(Body):
    action: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=500, description="a rejection's fail_reason")


@router.get("/verification-tasks/{taskid}", summary="Show a 代认证 review order", responses=errors(404))
async def verification_task(taskid: str, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """A 代认证 (verification on behalf) review order and its state."""
    return await runner.run(verification.task_view, platform, taskid)


@router.post("/verification-tasks/{taskid}", summary="Approve or reject a 代认证 order", responses=errors(404, 409))
async def review_verification_task(
    taskid: str, body: ReviewIn, platform: PlatformDep, runner: RunnerDep
) -> dict[str, Any]:
    """Play the reviewer: approve, or reject with a reason."""
    return await runner.run(verification.answer_review, platform, taskid, body.action, body.reason)


# ---------------------------------------------------------------- mail, emails, mini programs, audit


class MailOut(BaseModel):
    id: int
    to: str
    subject: str
    text: str
    html: str
    links: list[str]
    sent_at: str


@router.get("/mail", response_model=list[MailOut], summary="The outbox")
async def mail(
    platform: PlatformDep, runner: RunnerDep, to: Annotated[str | None, Query(max_length=254)] = None
) -> list[dict[str, Any]]:
    """Every email fastreg sent, as delivered to the SMTP server, with the links in it."""
    return await runner.run(sandbox.outbox, platform, to)


class PersonalEmailIn(Body):
    email: str = Field(min_length=3, max_length=254)


@router.post("/personal-wechat-emails", status_code=201, summary="Bind an email to a personal WeChat")
async def personal_wechat_email(body: PersonalEmailIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """Such an email is refused as a Mini Program's login email."""
    return {"email": await runner.run(sandbox.add_personal_wechat_email, platform, body.email)}


@router.get("/mini-programs/{appid}", summary="Show a Mini Program", responses=errors(404))
async def mini_program(appid: str, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """A fast-registered Mini Program: principal, certification, linked OA, admin and status."""
    return await runner.run(sandbox.mini_program_view, platform, appid)


@router.get("/audit", summary="Audit events")
async def audit(
    platform: PlatformDep, runner: RunnerDep, appid: Annotated[str | None, Query(max_length=18)] = None
) -> list[dict[str, Any]]:
    """What happened, oldest first, optionally for one appid."""
    return await runner.run(sandbox.audit_events, platform, appid)


# ---------------------------------------------------------------- injected faults of the Open API


class FaultFields(Body):
    path: str = Field(min_length=1, max_length=200, description="a /cgi-bin route, e.g. /cgi-bin/account/fastregister")
    appid: str | None = Field(
        default=None, min_length=1, max_length=32, description="only calls concerning this account or component"
    )
    times: int = Field(default=1, description="how many matching calls it hits")
    errcode: int | None = Field(default=None, description="answer this errcode (WeChat's errmsg) without running")
    http_status: int | None = Field(default=None, description="answer with this HTTP status without running")
    delay_ms: int | None = Field(default=None, description="hold the call (or, with after_commit, its answer)")
    after_commit: Literal["drop", "timeout"] | None = Field(
        default=None, description="run and commit the call, then drop the connection or answer after delay_ms"
    )


class FaultIn(FaultFields):
    @model_validator(mode="after")
    def _injectable(self) -> FaultIn:
        problem = FaultSpec(**self.model_dump()).problem()
        if problem:
            raise ValueError(problem)
        return self


class FaultOut(FaultFields):
    id: str
    remaining: int
    created_at: str


def _open_api_paths() -> set[str]:
    from fastreg.web.openapi.routes import router as open_api

    return {path for route in open_api.routes if (path := getattr(route, "path", "")).startswith("/cgi-bin/")}


@router.post("/faults", status_code=201, response_model=FaultOut, summary="Inject a fault into the Open API")
async def add_fault(body: FaultIn, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """The next ``times`` matching calls answer an errcode or HTTP status, run late, or commit and lose their
    answer."""
    known = _open_api_paths()
    if body.path not in known:
        raise SandboxError(422, "invalid_request", f"path: no Open API route {body.path}; one of {sorted(known)}")
    fault = await runner.run(faults.create, platform, FaultSpec(**body.model_dump()))
    return fault.as_json()


@router.get("/faults", response_model=list[FaultOut], summary="Faults waiting for calls")
async def list_faults(platform: PlatformDep, runner: RunnerDep) -> list[dict[str, Any]]:
    """The injected faults not used up yet."""
    return [fault.as_json() for fault in await runner.run(faults.list_all, platform)]


@router.delete("/faults", summary="Remove every fault")
async def clear_faults(platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """How many were removed."""
    return {"deleted": await runner.run(faults.delete_all, platform)}


@router.delete("/faults/{fault_id}", summary="Remove a fault", responses=errors(404))
async def delete_fault(fault_id: str, platform: PlatformDep, runner: RunnerDep) -> dict[str, Any]:
    """The fault with this id."""
    if not await runner.run(faults.delete, platform, fault_id):
        raise sandbox.not_found("fault", fault_id)
    return {"deleted": 1}


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False, status_code=404
)
def unknown(path: str) -> JSONResponse:
    return error_response(404, "not_found", f"no sandbox route /sandbox/v1/{path}")
