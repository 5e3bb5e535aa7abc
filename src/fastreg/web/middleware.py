"""The HTTP edge, as one pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task and a stream per
request): the request id, the body-size limit, the access log line and the request metrics; and the
``/metrics`` route.

- Request id: the caller's ``X-Request-Id`` when it is a short token of safe characters, otherwise a new one
  shaped like WeChat's ``rid`` (:func:`new_request_id`); bound to every log line written while the request is
  handled, echoed in the ``X-Request-Id`` response header, and appended to every WeChat error's ``errmsg`` as
  `` rid: <id>``.
- Body size: a body larger than ``settings.max_body_bytes`` (1 MiB) is refused with HTTP 413 before the route
  sees it, whether the size is announced (``Content-Length``) or only discovered while reading a chunked body.
  The refusal is JSON in the caller's dialect: ``{"error":{"code":"payload_too_large",...}}`` under
  ``/sandbox/``, and ``{"errcode":45002,"errmsg":"content size out of limit rid: <id>"}`` everywhere else (WeChat's code
  for an oversized request).
- Body time-out: a body that stalls longer than ``settings.body_timeout_seconds`` between two chunks (a slow or
  abandoned upload holding a connection) is answered 408, in the same dialects as the 413 (``errcode`` -1 outside
  ``/sandbox/``), and the connection is closed.
- One access log line per request: ``event=request method path route status duration_ms request_id``. The
  ``path`` of a request a route answered is its route template (``/activate/{token}``,
  ``/m/confirm/{confirmation_id}``): secrets in paths (activation tokens, confirmation ids, enrolment links)
  are never logged. Only a path no route matched is logged as sent (escaped), to show what was asked for.
- No framing: every HTML answer (console, QR pages, phone pages, error pages, ``/docs``) carries
  ``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'`` unless it set its own.
- A route that raises :class:`DropConnection` (an injected sandbox fault) gets its connection closed without
  an answer; it is logged with status 444.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from fastreg.observability import CONTENT_TYPE_LATEST, Metrics, bound_logger, configure_logging, current_metrics
from fastreg.platform import Platform

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
NO_FRAMING = [(b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'")]
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")
UNMATCHED = "<unmatched>"
TOO_LARGE_ERRCODE = 45002

ACCESS_LOG = "fastreg.access"


class BodyTooLarge(Exception):
    """The request body grew past the limit while the application was reading it."""


class BodyStalled(Exception):
    """No chunk of the request body arrived within the body time-out."""


REQUEST_TIMEOUT = 408


class DropConnection(BaseException):
    """Raised by a route that has done its work and must not answer (an injected ``after_commit: "drop"``
    fault): the connection is closed without a byte of answer, as when a client's call times out. A
    ``BaseException``, so that no route or middleware turns it into an error answer on its way here."""


DROPPED = 444  # the status logged for a dropped call (nginx's "connection closed without response")


async def close_without_answer(receive: Receive) -> None:
    """Close the client's connection without answering. The server's ``receive`` is a method of its request
    cycle, which holds the transport (uvicorn); the server is then left to notice the disconnection, so that it
    does not answer 500 in the application's place."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("closing a connection without an answer needs uvicorn")
    transport.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            while (await receive())["type"] != "http.disconnect":
                pass


def new_request_id() -> str:
    """A request id shaped like WeChat's ``rid`` (``6746c1a2-2f3b0c1e-5d8f1a22``): the Unix time and 64 random
    bits, as three groups of eight hex digits."""
    noise = os.urandom(8).hex()
    return f"{int(time.time()) & 0xFFFFFFFF:08x}-{noise[:8]}-{noise[8:]}"


def current_request_id() -> str:
    """The id of the request being handled (bound by :class:`EdgeMiddleware`), or "" outside a request."""
    return str(structlog.contextvars.get_contextvars().get("request_id", ""))


def too_large_body(path: str, limit: int, request_id: str) -> bytes:
    if path.startswith("/sandbox/"):
        payload: dict[str, Any] = {
            "error": {"code": "payload_too_large", "message": f"the request body is larger than {limit} bytes"}
        }
    else:
        payload = {"errcode": TOO_LARGE_ERRCODE, "errmsg": f"content size out of limit rid: {request_id}"}
    return json.dumps(payload, separators=(",", ":")).encode()


def stalled_body(path: str, timeout: float, request_id: str) -> bytes:
    if path.startswith("/sandbox/"):
        payload: dict[str, Any] = {
            "error": {"code": "request_timeout", "message": f"the request body stalled for {timeout:g} s"}
        }
    else:
        payload = {"errcode": -1, "errmsg": f"system error rid: {request_id}"}
    return json.dumps(payload, separators=(",", ":")).encode()


def with_edge_headers(headers: Any, id_header: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    """The response's headers, plus the request id and, on an HTML page that did not set its own, no framing."""
    result = [*headers, id_header]
    names = {name.lower() for name, _ in result}
    is_html = any(name.lower() == b"content-type" and value.startswith(b"text/html") for name, value in result)
    if is_html and b"x-frame-options" not in names and b"content-security-policy" not in names:
        result.extend(NO_FRAMING)
    return result


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def logged_path(scope: Scope) -> str:
    """The path as the access log shows it: the route template, or the path itself when no route matched."""
    route = route_template(scope)
    return str(scope["path"]) if route == UNMATCHED else route


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int, body_timeout: float) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        content_length: int | None = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                if _SAFE_REQUEST_ID.match(value):
                    request_id = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        if not request_id:
            request_id = new_request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        current_metrics.set(self.metrics)
        id_header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        status = 500
        response_started = False
        too_large = False  # the body grew past the limit while being read: answer 413 whatever the app says
        stalled = False  # the body stopped arriving: answer 408 whatever the app says

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                if response_started:
                    return
                response_started = True
                if too_large or stalled:
                    status = 413 if too_large else REQUEST_TIMEOUT
                    await self._refuse(scope, send, id_header, status)
                    return
                status = message["status"]
                message["headers"] = with_edge_headers(message.get("headers", ()), id_header)
            elif too_large or stalled:
                return  # the body of the application's answer to a refused request
            await send(message)

        limit = self.max_body_bytes
        received = 0
        body_done = False

        async def limited_receive() -> Message:
            nonlocal received, too_large, stalled, body_done
            if body_done:  # past the body, ``receive`` waits for the disconnection: no time-out
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                stalled = True
                raise BodyStalled from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise BodyTooLarge
            return message

        try:
            if content_length is not None and content_length > limit:
                too_large = True
                await send_with_id({"type": "http.response.start", "status": 413})
            else:
                try:
                    await self.app(scope, limited_receive, send_with_id)
                except (BodyTooLarge, BodyStalled):
                    if not response_started:
                        await send_with_id({"type": "http.response.start", "status": 413})
                except DropConnection:
                    status = DROPPED
                    await close_without_answer(receive)
        except Exception:
            bound_logger(ACCESS_LOG).exception("request failed", method=scope["method"], path=logged_path(scope))
            status = 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe_request(scope["method"], route, status, elapsed)
            bound_logger(ACCESS_LOG).info(
                "request",
                method=scope["method"],
                path=logged_path(scope),
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )

    async def _refuse(self, scope: Scope, send: Send, id_header: tuple[bytes, bytes], status: int) -> None:
        request_id = id_header[1].decode("latin-1")
        if status == REQUEST_TIMEOUT:
            body = stalled_body(scope["path"], self.body_timeout, request_id)
        else:
            body = too_large_body(scope["path"], self.max_body_bytes, request_id)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    id_header,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, platform: Platform) -> Metrics:
    """Configure logging, add the edge middleware and ``GET /metrics`` (unless the admin endpoints are off, as in
    production by default) to ``app``; returns its metrics."""
    configure_logging(platform.settings)
    metrics = Metrics()
    platform.observer = metrics  # services report registrations and push failures to it
    app.state.metrics = metrics
    settings = platform.settings
    app.add_middleware(
        EdgeMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout_seconds,
    )

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    if platform.settings.serves_admin_endpoints:
        app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    return metrics
