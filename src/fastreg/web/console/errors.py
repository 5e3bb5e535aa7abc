"""The console's own error pages: 404 (no such page), 405 (a URL opened with a method it does not take) and
500, in the page's language, for every path outside WeChat's API (which answers WeChat's JSON errors) and the
sandbox's control API (which answers its own JSON)."""

from __future__ import annotations

import structlog
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException

from fastreg.web.console.render import render
from fastreg.web.openapi.errors import WECHAT_PREFIXES, unrouted

PAGES = (404, 405, 500)
log = structlog.get_logger("fastreg.console")


def is_console_path(path: str) -> bool:
    return not f"{path}/".startswith(WECHAT_PREFIXES) and not path.startswith("/sandbox/")


def error_page(request: Request, status: int, headers: dict[str, str] | None = None) -> Response:
    response = render(request, "error.html", {"status": status}, status=status)
    response.headers.update(headers or {})
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """The router's 404 and 405 (and a console route's own 404) as pages; WeChat's and the sandbox's paths
    keep their JSON answers."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in PAGES and is_console_path(request.url.path):
        return error_page(request, exc.status_code, dict(exc.headers or {}))
    return await unrouted(request, exc)


async def server_error(request: Request, exc: Exception) -> Response:
    """An unexpected failure: the console's 500 page (the failure itself is logged by the edge middleware)."""
    if is_console_path(request.url.path):
        try:
            return error_page(request, 500)
        except Exception:  # the page itself could not be made: plain text rather than nothing
            log.exception("error page failed", path=request.url.path)
    return PlainTextResponse("Internal Server Error", status_code=500)
