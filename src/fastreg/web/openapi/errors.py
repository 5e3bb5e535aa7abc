"""How the WeChat-compatible API answers: JSON as WeChat writes it (UTF-8, Chinese as real characters),
every refusal as HTTP 200 with ``{"errcode","errmsg"}``, request bodies read and parsed by hand whatever
their Content-Type, and a crash as HTTP 500 ``{"errcode":-1}`` logged with a request id.

Every error's ``errmsg`` is the code's wire text followed by `` rid: <request id>``, as WeChat writes it
(``invalid ticket rid: 6746c1a2-2f3b0c1e-5d8f1a22``): the id of the ``X-Request-Id`` header and the log lines.
Under the API's prefixes (``/cgi-bin/``, ``/wxa/``) an unknown path answers 40066 ``invalid url`` and a known
path called with another method 43001 ``require GET method`` or 43002 ``require POST method``, HTTP 200, as
WeChat's API host does, so that an SDK raises its own error type; never FastAPI's ``{"detail"}``."""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from fastreg.domain.errors import DomainError, Err, ErrorSpec
from fastreg.runner import FaultsArmed
from fastreg.web.inputs import BadInput, load_json
from fastreg.web.middleware import current_request_id

log = logging.getLogger("fastreg.openapi")

Model = TypeVar("Model", bound=BaseModel)

# Transport-level refusals that are not domain rules.
BODY_TOO_LARGE = ErrorSpec(45002, "content size out of limit", "请求体超过 1 MiB", "Request body over 1 MiB")
INVALID_URL = ErrorSpec(40066, "invalid url", "不合法的 url", "Invalid url")
REQUIRE_GET = ErrorSpec(43001, "require GET method", "需要 GET 请求", "GET required")
REQUIRE_POST = ErrorSpec(43002, "require POST method", "需要 POST 请求", "POST required")

# The paths WeChat's API host serves; their unknown paths and wrong methods answer WeChat's errors.
WECHAT_PREFIXES = ("/cgi-bin/", "/wxa/")

# Validation error types that mean "a field is missing or out of range" (40097) rather than "wrong type" (47001).
_ARGUMENT_ERRORS = frozenset(
    {
        "missing",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "literal_error",
        "string_too_short",
        "string_too_long",
        "value_error",
        "enum",
    }
)


class WeChatJSONResponse(JSONResponse):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ApiError(Exception):
    """A refusal with an errcode that is not a domain error (body size, validation)."""

    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(f"{spec.errcode} {spec.errmsg}")
        self.spec = spec


def with_rid(errmsg: str) -> str:
    """An error's ``errmsg`` as WeChat sends it: the text, then `` rid: `` and the request's id."""
    rid = current_request_id()
    return f"{errmsg} rid: {rid}" if rid else errmsg


def wechat_error(errcode: int, errmsg: str, *, status_code: int = 200) -> WeChatJSONResponse:
    return WeChatJSONResponse({"errcode": errcode, "errmsg": with_rid(errmsg)}, status_code=status_code)


def ok(payload: dict[str, Any] | None = None, *, errmsg: str = "ok") -> WeChatJSONResponse:
    return WeChatJSONResponse({"errcode": 0, "errmsg": errmsg, **(payload or {})})


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused (45002) beyond ``limit`` bytes, without reading more than that."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(BODY_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(BODY_TOO_LARGE)
        chunks.append(chunk)
    body = request._body = b"".join(chunks)  # kept where Starlette keeps it: the fault layer may run the call again
    return body


class Parsed(Generic[Model]):
    """A body parsed into a model, or the refusal to raise once the token has been checked."""

    def __init__(self, value: Model | None, error: ErrorSpec | None) -> None:
        self._value = value
        self.error = error

    @property
    def value(self) -> Model:
        if self.error is not None:
            raise ApiError(self.error)
        assert self._value is not None
        return self._value


def parse_json(raw: bytes, model: type[Model], *, required: bool = True) -> Parsed[Model]:
    """Parse a JSON object into ``model``: empty → 44002 (or ``{}`` when not required), not JSON or a
    field of the wrong type → 47001, a missing or out-of-range field → 40097."""
    text = raw.strip()
    if not text:
        if required:
            return Parsed(None, Err.EMPTY_POST.value)
        text = b"{}"
    try:
        data = load_json(text.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return Parsed(None, Err.DATA_FORMAT.value)
    except BadInput as error:
        return Parsed(None, bad_input_spec(error))
    if not isinstance(data, dict):
        return Parsed(None, Err.DATA_FORMAT.value)
    try:
        return Parsed(model.model_validate(data), None)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors()}
        spec = Err.INVALID_PARAMETER.value if kinds <= _ARGUMENT_ERRORS else Err.DATA_FORMAT.value
        return Parsed(None, spec)


def bad_input_spec(error: BadInput) -> ErrorSpec:
    """Malformed input (deep JSON, not text) is 47001; a value no column takes (a NUL byte) is 40097."""
    return Err.DATA_FORMAT.value if error.malformed else Err.INVALID_PARAMETER.value


def bad_input_answer(_request: Request, error: BadInput) -> WeChatJSONResponse:
    spec = bad_input_spec(error)
    return wechat_error(spec.errcode, spec.errmsg)


class WeChatRoute(APIRoute):
    """Every error of an Open API route becomes WeChat's ``{"errcode","errmsg"}`` answer; in the sandbox, the
    call goes through the injected faults first (``web.openapi.faults``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        from fastreg.web.openapi.faults import run_with_faults  # it answers with this module's helpers

        original = self._endpoint_alone() or super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await original(request)
            except DomainError as error:
                return wechat_error(error.errcode, error.errmsg)
            except ApiError as error:
                return wechat_error(error.spec.errcode, error.spec.errmsg)
            except RequestValidationError:
                return wechat_error(Err.DATA_FORMAT.value.errcode, Err.DATA_FORMAT.value.errmsg)
            except FaultsArmed:
                raise  # the fault layer answers
            except Exception:
                return crashed(request)

        async def handler(request: Request) -> Response:
            try:
                return await run_with_faults(request, lambda: answer(request))
            except Exception:
                return crashed(request)

        return handler

    def _endpoint_alone(self) -> Callable[[Request], Coroutine[Any, Any, Response]] | None:
        """The endpoint itself, when it takes the request alone and answers a ``Response``
        (``account/fastregister``: it reads its token and body by hand). FastAPI's request handler would solve
        parameters, dependencies and response models such an endpoint has none of: some 3 % of the server's CPU
        per registration. None for every other endpoint (FastAPI's handler runs them)."""
        dependant, endpoint = self._effective_dependant(), self.endpoint
        takes_request_alone = (
            dependant.request_param_name is not None
            and len(inspect.signature(endpoint).parameters) == 1
            and not dependant.dependencies
        )
        answers = typing.get_type_hints(endpoint).get("return")
        if not (
            takes_request_alone
            and inspect.iscoroutinefunction(endpoint)
            and isinstance(answers, type)
            and issubclass(answers, Response)
        ):
            return None
        alone: Callable[[Request], Coroutine[Any, Any, Response]] = endpoint
        return alone

    def _effective_dependant(self) -> Any:
        """What FastAPI solves for this route where it is being built: for a route of an included router, the
        inclusion's dependencies merged in (FastAPI says so through a context variable of its own; without
        it, the route's own dependant; ``tests/api/test_api_routes.py`` includes a route with a dependency)."""
        context_var = getattr(fastapi_routing, "_effective_route_context_var", None)
        context = context_var.get() if context_var is not None else None
        if context is not None and getattr(context, "original_route", None) is self:
            return context.dependant
        return self.dependant


def unrouted_spec(exc: HTTPException) -> ErrorSpec:
    """The WeChat error for the router's refusal: 43002/43001 for a known path and another method (by the
    methods the route allows), 40066 for an unknown path."""
    allowed = (exc.headers or {}).get("Allow", "") if exc.status_code == 405 else ""
    if "POST" in allowed.split(", "):
        return REQUIRE_POST
    if "GET" in allowed.split(", "):
        return REQUIRE_GET
    return INVALID_URL


async def unrouted(request: Request, exc: Exception) -> Response:
    """The application's handler of HTTP exceptions: the router's 404 and 405 under the API's prefixes answer
    WeChat's JSON error (HTTP 200); everything else keeps FastAPI's own answer."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405) and f"{request.url.path}/".startswith(WECHAT_PREFIXES):
        spec = unrouted_spec(exc)
        return wechat_error(spec.errcode, spec.errmsg)
    return await http_exception_handler(request, exc)


def crashed(request: Request) -> WeChatJSONResponse:
    """A bug: HTTP 500 ``{"errcode": -1}``, logged (with the exception being handled) under the request id."""
    rid = current_request_id()
    log.exception("unexpected failure in %s %s (request_id=%s)", request.method, request.url.path, rid)
    return wechat_error(Err.SYSTEM.value.errcode, Err.SYSTEM.value.errmsg, status_code=500)


def errcode_table(specs: Iterable[ErrorSpec | Err], intro: str = "") -> str:
    """A Markdown table of the errcodes an endpoint answers, for the OpenAPI description."""
    rows = ["| errcode | errmsg |", "|---|---|"]
    for item in specs:
        spec = item.value if isinstance(item, Err) else item
        rows.append(f"| {spec.errcode} | {spec.errmsg} |")
    table = "\n".join(rows)
    answer = '`{"errcode","errmsg"}`, the errmsg followed by ` rid: <request id>`'
    return f"{intro}\n\nError codes (HTTP 200 with {answer}):\n\n{table}".strip()
