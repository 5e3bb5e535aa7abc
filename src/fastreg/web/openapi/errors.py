"""How the WeChat-compatible API answers: JSON as WeChat writes it (UTF-8, Chinese as real characters),
every refusal as HTTP 200 with ``{"errcode","errmsg"}``, request bodies read and parsed by hand whatever
their Content-Type, and a crash as HTTP 500 ``{"errcode":-1}`` logged with a request id."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from fastreg.domain.errors import DomainError, Err, ErrorSpec

log = logging.getLogger("fastreg.openapi")

Model = TypeVar("Model", bound=BaseModel)

# Transport-level refusals that are not domain rules.
BODY_TOO_LARGE = ErrorSpec(45002, "content size out of limit", "请求体超过 1 MiB", "Request body over 1 MiB")

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


def wechat_error(errcode: int, errmsg: str) -> WeChatJSONResponse:
    return WeChatJSONResponse({"errcode": errcode, "errmsg": errmsg})


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
    return b"".join(chunks)


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
        data = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return Parsed(None, Err.DATA_FORMAT.value)
    if not isinstance(data, dict):
        return Parsed(None, Err.DATA_FORMAT.value)
    try:
        return Parsed(model.model_validate(data), None)
    except ValidationError as exc:
        kinds = {error["type"] for error in exc.errors()}
        spec = Err.INVALID_PARAMETER.value if kinds <= _ARGUMENT_ERRORS else Err.DATA_FORMAT.value
        return Parsed(None, spec)


def request_id(request: Request) -> str:
    """The request id the edge middleware bound to this request's log lines (or a new one)."""
    import structlog

    bound = structlog.contextvars.get_contextvars().get("request_id")
    return str(bound or request.headers.get("x-request-id") or secrets.token_hex(8))


class WeChatRoute(APIRoute):
    """Every error of an Open API route becomes WeChat's ``{"errcode","errmsg"}`` answer; in the sandbox, the
    call goes through the injected faults first (``web.openapi.faults``)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        from fastreg.web.openapi.faults import run_with_faults  # it answers with this module's helpers

        original = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await original(request)
            except DomainError as error:
                return wechat_error(error.errcode, error.errmsg)
            except ApiError as error:
                return wechat_error(error.spec.errcode, error.spec.errmsg)
            except RequestValidationError:
                return wechat_error(Err.DATA_FORMAT.value.errcode, Err.DATA_FORMAT.value.errmsg)
            except Exception:
                return crashed(request)

        async def handler(request: Request) -> Response:
            try:
                return await run_with_faults(request, lambda: answer(request))
            except Exception:
                return crashed(request)

        return handler


def crashed(request: Request) -> WeChatJSONResponse:
    """A bug: HTTP 500 ``{"errcode": -1}``, logged (with the exception being handled) under the request id."""
    rid = request_id(request)
    log.exception("unexpected failure in %s %s (request_id=%s)", request.method, request.url.path, rid)
    return WeChatJSONResponse({"errcode": -1, "errmsg": "system error", "request_id": rid}, status_code=500)


def errcode_table(specs: Iterable[ErrorSpec | Err], intro: str = "") -> str:
    """A Markdown table of the errcodes an endpoint answers, for the OpenAPI description."""
    rows = ["| errcode | errmsg |", "|---|---|"]
    for item in specs:
        spec = item.value if isinstance(item, Err) else item
        rows.append(f"| {spec.errcode} | {spec.errmsg} |")
    table = "\n".join(rows)
    return f'{intro}\n\nError codes (HTTP 200 with `{{"errcode","errmsg"}}`):\n\n{table}'.strip()
