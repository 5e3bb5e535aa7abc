"""Rendering the console's pages: the templates, the page's language and translator, the flash a refused form
left for its page, the anonymous CSRF token, and the answers every page shares (redirects, refusals).

Every POST form carries a CSRF token and answers with a redirect (post/redirect/get: nothing is submitted twice),
a refused one back to its page with the errors and typed values in a flash (``flash.py``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from fastreg.domain import secrets
from fastreg.domain.errors import DomainError
from fastreg.services import sessions
from fastreg.web.console import flash
from fastreg.web.console.translations import DEFAULT_LANG, LANGS, translator
from fastreg.web.deps import get_platform, secure_cookies
from fastreg.web.inputs import check_form

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript", "favicon.ico": "image/x-icon"}

LANG_COOKIE = "fastreg_lang"
ANON_COOKIE = "fastreg_csrf"
ANON_SALT = "anonymous-csrf"

router = APIRouter(include_in_schema=False)


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    return remembered if remembered in LANGS else DEFAULT_LANG


@pass_context
def local_time(context: Context, value: datetime | None) -> str:
    """A time as the console shows it: in the configured time zone (``FASTREG_TIMEZONE``)."""
    if value is None:
        return "-"
    tz = get_platform(context["request"]).settings.timezone
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def lang_url(request: Request, lang: str) -> str:
    params = dict(request.query_params)
    params["lang"] = lang
    return request.url.path + "?" + urlencode(params)


TEMPLATES.env.filters["local_time"] = local_time


def _anon_token(request: Request) -> tuple[str, str | None]:
    """(raw value of the anonymous CSRF cookie, the new cookie value to set or None)."""
    raw = request.cookies.get(ANON_COOKIE)
    if raw and 20 <= len(raw) <= 64:
        return raw, None
    raw = secrets.new_token()
    return raw, raw


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    csrf: str | None = None,
) -> HTMLResponse:
    """Render a page. ``csrf``: the session's token; without one the page gets an anonymous token
    (a signed copy of a random cookie: double submit). A flash left by a refused form for this page (its errors
    and typed values) is shown, once."""
    platform = get_platform(request)
    lang = lang_of(request)
    new_anon: str | None = None
    binding = csrf
    if csrf is None:
        binding, new_anon = _anon_token(request)
        csrf = sessions.sign(platform, binding, ANON_SALT)
    ctx: dict[str, Any] = {
        "lang": lang,
        "t": translator(lang),
        "csrf_token": csrf,
        "lang_url": lambda code: lang_url(request, code),
        "errors": {},
        "values": {},
        "error": None,
        "notice": None,
    }
    ctx.update(context or {})
    flashed = flash.take(request, platform.secret_key, binding=binding or "")
    if flashed is not None and flashed.step in (None, ctx.get("step")):
        ctx["errors"] = flashed.errors or ctx["errors"]
        ctx["values"] = flashed.values or ctx["values"]
        ctx["error"] = flashed.error or ctx["error"]
        status = flashed.status or status
    response = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)
    flash.clear(request, response)
    response.headers["Cache-Control"] = "no-store"
    # No framing (the phone page's buttons must not be clickjacked); tokens in URLs stay on this site.
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    if new_anon:
        response.set_cookie(ANON_COOKIE, new_anon, httponly=True, samesite="lax", secure=secure_cookies(platform))
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def refused_form(request: Request, page: str, binding: str, refusal: flash.Flash) -> RedirectResponse:
    """Post/redirect/get for a refused form: back to ``page``, which shows the refusal (errors, typed values)."""
    response = redirect(page)
    flash.put(response, get_platform(request).secret_key, page=page.split("?")[0], binding=binding, flash=refusal)
    return response


def refused(request: Request, message: str, *, status: int = 403, csrf: str | None = None) -> HTMLResponse:
    return render(request, "message.html", {"title_key": "error.title", "message": message}, status=status, csrf=csrf)


async def form_of(request: Request) -> dict[str, str]:
    """The form's text fields; a NUL character anywhere raises BadInput (the app answers ``bad_input_page``)."""
    form = await request.form()
    return check_form({key: value for key, value in form.items() if isinstance(value, str)})


def bad_input_page(request: Request, _error: Exception) -> HTMLResponse:
    """The answer to a URL or a form a person cannot have typed (a NUL character)."""
    return refused(request, translator(lang_of(request))("error.bad_input"), status=400)


def anon_csrf_ok(request: Request, form: dict[str, str]) -> bool:
    raw = request.cookies.get(ANON_COOKIE)
    given = sessions.unsign(get_platform(request), form.get("csrf_token"), ANON_SALT)
    return sessions.csrf_valid(raw, given)


def csrf_refusal(request: Request) -> HTMLResponse:
    return refused(request, translator(lang_of(request))("error.csrf"), status=403)


def err_text(request: Request, error: DomainError) -> str:
    return error.message(lang_of(request))


def notice_of(request: Request) -> str | None:
    """The page's ``?notice=`` key, in the page's language."""
    key = request.query_params.get("notice")
    if key and key.replace("_", "").isalnum():
        return translator(lang_of(request))("notice." + key)
    return None


def safe_next(value: str | None, default: str) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


# ---------------------------------------------------------------- static files


@router.get("/static/console/{name}")
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404)
    return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name])


@router.get("/favicon.ico")
def favicon() -> Response:
    response = static_file("favicon.ico")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
