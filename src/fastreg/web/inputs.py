"""Input a stranger controls, checked before it reaches a route's database work or the JSON encoder.

- JSON bodies are parsed by :func:`load_json` (pydantic-core's parser): not JSON (NaN included), nested deeper
  than ``MAX_JSON_DEPTH`` or a lone surrogate (not text) is *malformed*; a NUL byte in a key or a string
  (PostgreSQL cannot store it) or a number out of range (``1e400``) is a *bad value*. Each surface answers these
  in its own dialect.
- Paths and query strings are checked once, by :class:`InputGuard`, a pure ASGI middleware: a NUL byte in
  either is refused before routing, with the answer of the surface the path belongs to. (Percent-decoding of
  URLs and form fields replaces invalid UTF-8, so they cannot carry lone surrogates.)
- Form fields are checked by :func:`check_form`; ids in URLs are read by :func:`database_id`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response

from fastreg.web.middleware import ASGIApp, Receive, Scope, Send

MAX_JSON_DEPTH = 32  # WeChat's bodies nest three levels at most
MAX_ID = 2**31 - 1  # the database's INTEGER


class BadInput(Exception):
    """Refused input. ``malformed``: not well-formed (bad JSON, not text); otherwise a value no column takes."""

    def __init__(self, reason: str, *, malformed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


def load_json(raw: bytes | str) -> Any:
    """The parsed JSON document, or :class:`BadInput`."""
    try:
        data = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:  # includes the parser's own recursion limit and lone surrogates
        raise BadInput(f"the request body is not valid JSON ({exc})", malformed=True) from None
    check_json(data)
    return data


def check_json(data: Any) -> None:
    """Walk a parsed document without recursion: its depth, its numbers and its strings."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadInput(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels", malformed=True)
            if isinstance(value, dict):
                check_strings(value.keys())
                stack.extend((item, depth + 1) for item in value.values())
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            check_strings((value,))
        elif isinstance(value, float) and not math.isfinite(value):
            raise BadInput("the JSON has a number out of range", malformed=False)


def check_strings(values: Iterable[str]) -> None:
    for value in values:
        if "\x00" in value:
            raise BadInput("a string contains a NUL character", malformed=False)


def check_form(form: dict[str, str]) -> dict[str, str]:
    """The form's fields, refused (:class:`BadInput`) when a name or value holds a NUL character."""
    check_strings(form.keys())
    check_strings(form.values())
    return form


def database_id(text: str | None) -> int | None:
    """An id from a URL: ASCII digits in the range of the database's INTEGER, else None."""
    if not text or len(text) > 10 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def url_problem(scope: Scope) -> str | None:
    """What is wrong with the request's path or query string, if anything."""
    if "\x00" in scope["path"]:
        return "the path contains a NUL character"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "the query string contains a NUL character"
    return None


Refusal = Callable[[Request, BadInput], Response]


class InputGuard:
    """Refuses a request whose path or query string is unusable, in the dialect of the first matching prefix
    of ``dialects`` (else ``default``), before any route runs."""

    def __init__(self, app: ASGIApp, *, dialects: Sequence[tuple[str, Refusal]], default: Refusal) -> None:
        self.app = app
        self.dialects = dialects
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = url_problem(scope) if scope["type"] == "http" else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        refusal = next((answer for prefix, answer in self.dialects if path.startswith(prefix)), self.default)
        response = refusal(Request(scope, receive), BadInput(problem, malformed=False))
        await response(scope, receive, send)
