"""The flash: what a refused form leaves for the page it redirects to (post/redirect/get).

A form POST always answers with a redirect; its field errors, its page error and the values typed (never a
password) ride along in a short-lived signed cookie, bound to the browser's session (or anonymous CSRF cookie)
and to the page that shows them, and read once by that page. Nothing is stored server-side, so any worker can
render the page."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "fastreg_flash"
SALT = "console-flash"
MAX_AGE_SECONDS = 60
# Never carried back into a page: the form's secrets and its bookkeeping.
NOT_KEPT = frozenset({"password", "password_confirm", "csrf_token", "registration_id"})
MAX_VALUE_CHARS = 256  # a cookie holds about 4 KB


@dataclass(frozen=True)
class Flash:
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    step: int | None = None  # the wizard step whose form was refused (shown only at that step)
    status: int | None = None  # the HTTP status of the page showing the refusal (429: login locked)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def _binding(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def kept_values(form: dict[str, str]) -> dict[str, str]:
    """What the page may show again of a posted form."""
    return {key: value[:MAX_VALUE_CHARS] for key, value in form.items() if key not in NOT_KEPT}


def put(response: Response, secret: str, *, page: str, binding: str, flash: Flash) -> None:
    """Leave ``flash`` for the next GET of ``page`` in the browser whose session (or CSRF cookie) is ``binding``."""
    data: dict[str, Any] = {"p": page, "b": _binding(binding), "e": flash.errors, "v": flash.values}
    if flash.error:
        data["m"] = flash.error
    if flash.step is not None:
        data["s"] = flash.step
    if flash.status is not None:
        data["c"] = flash.status
    value = _serializer(secret).dumps(data)
    response.set_cookie(COOKIE, value, max_age=MAX_AGE_SECONDS, httponly=True, samesite="lax")


def take(request: Request, secret: str, *, binding: str) -> Flash | None:
    """The flash left for this page in this browser, or None (none, expired, forged, another page's)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(secret).loads(raw, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("p") != request.url.path or data.get("b") != _binding(binding):
        return None
    step, status = data.get("s"), data.get("c")
    return Flash(
        errors={str(k): str(v) for k, v in dict(data.get("e") or {}).items()},
        values={str(k): str(v) for k, v in dict(data.get("v") or {}).items()},
        error=str(data["m"]) if data.get("m") else None,
        step=step if isinstance(step, int) else None,
        status=status if isinstance(status, int) and 400 <= status < 500 else None,
    )


def clear(request: Request, response: Response) -> None:
    """The page that could read the flash forgets it (it is shown once)."""
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, httponly=True, samesite="lax")
