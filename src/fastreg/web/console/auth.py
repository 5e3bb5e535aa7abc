"""Operator and MP logins, sessions and the operator's CSRF-checked forms.

A route that needs the logged-in operator takes :data:`CurrentOperator`; without a live session it raises
:class:`LoginRequired`, which one handler (:func:`stopped`) answers with the login page, then back to the
page the operator was on (for a form, the page that owns it: :func:`form_owner`). A POST route takes
:data:`CsrfForm`, the form checked against the session's CSRF token (refused with the csrf page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from fastreg.domain.errors import DomainError, Err
from fastreg.platform import Platform
from fastreg.services import sessions
from fastreg.web.console import flash
from fastreg.web.console.render import (
    ANON_COOKIE,
    anon_csrf_ok,
    csrf_refusal,
    err_text,
    form_of,
    lang_of,
    redirect,
    refused_form,
    render,
    safe_next,
)
from fastreg.web.console.translations import translator
from fastreg.web.deps import get_platform, get_runner, secure_cookies

OPERATOR_COOKIE = "fastreg_session"
MP_COOKIE = "fastreg_mp_session"

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- the operator session


@dataclass(frozen=True)
class OperatorCtx:
    session: sessions.SessionView
    who: sessions.OperatorIdentity

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


def _operator(platform: Platform, cookie: str | None) -> OperatorCtx | None:
    view = sessions.load(platform, cookie, sessions.OPERATOR)
    if view is None:
        return None
    who = sessions.operator_identity(platform, view.account_id)
    return OperatorCtx(view, who) if who else None


async def operator_of(request: Request) -> OperatorCtx | None:
    """The logged-in operator, if any (read in a worker thread)."""
    return await get_runner(request).run(_operator, get_platform(request), request.cookies.get(OPERATOR_COOKIE))


def login_redirect(request: Request, owner: str | None = None) -> RedirectResponse:
    """To the login page, then back to ``owner`` (the page whose form was posted) or to the page asked for.
    A form posted without a live session (logged out in another tab, expired) says the login has expired."""
    params = {"next": owner or request.url.path}
    if request.method == "POST":
        params["expired"] = "1"
    return redirect("/login?" + urlencode(params))


class Stop(Exception):
    """A dependency's refusal of the request; :func:`stopped`, the one handler, answers it."""

    def answer(self, request: Request) -> Response:
        raise NotImplementedError


class LoginRequired(Stop):
    """No live operator session: the login page, then back to the page (or the form's owner)."""

    def answer(self, request: Request) -> Response:
        return login_redirect(request, getattr(request.state, "form_owner", None))


class CsrfRefused(Stop):
    """A form whose CSRF token is not the session's: the csrf refusal page."""

    def answer(self, request: Request) -> Response:
        return csrf_refusal(request)


def stopped(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Stop)
    return exc.answer(request)


def form_owner(page: str) -> DependsParam:
    """A route dependency: the page that owns the route's form (where the login leads back to after an expired
    session)."""

    async def owned(request: Request) -> None:  # async: a plain def dependency runs in a thread
        request.state.form_owner = page

    return Depends(owned)


async def current_operator(request: Request) -> OperatorCtx:
    op = await operator_of(request)
    if op is None:
        raise LoginRequired
    return op


CurrentOperator = Annotated[OperatorCtx, Depends(current_operator)]


async def operator_form(request: Request, op: CurrentOperator) -> dict[str, str]:
    """The posted form, its CSRF token checked against the operator's session."""
    form = await form_of(request)
    if not sessions.csrf_valid(op.csrf, form.get("csrf_token")):
        raise CsrfRefused
    return form


CsrfForm = Annotated[dict[str, str], Depends(operator_form)]


def oa_page(
    request: Request, op: OperatorCtx, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    ctx = {"op": op.who, "nav": "miniprograms", **context}
    return render(request, name, ctx, status=status, csrf=op.csrf)


# ---------------------------------------------------------------- logging in and out (OA operators and MPs)


async def log_in(request: Request, scope: str) -> Response:
    platform = get_platform(request)
    form = await form_of(request)
    if not anon_csrf_ok(request, form):
        return csrf_refusal(request)
    try:
        new = await get_runner(request).run(
            sessions.login, platform, scope, form.get("email", ""), form.get("password", "")
        )
    except DomainError as error:
        message = err_text(request, error)
        if error.err is Err.NOT_ACTIVATED and error.params.get("stage") == "incomplete":
            message = translator(lang_of(request))("login.incomplete")
        next_ = form.get("next", "")
        page = "/mp/login" if scope == sessions.MP else "/login" + ("?" + urlencode({"next": next_}) if next_ else "")
        status = 429 if error.err is Err.LOGIN_LOCKED else 400
        email = form.get("email", "")[: flash.MAX_VALUE_CHARS]
        refusal = flash.Flash(values={"email": email}, error=message, status=status)
        return refused_form(request, page, request.cookies.get(ANON_COOKIE, ""), refusal)
    if scope == sessions.OPERATOR:
        response = redirect(safe_next(form.get("next"), "/oa"))
        cookie = OPERATOR_COOKIE
    else:
        response = redirect("/mp")
        cookie = MP_COOKIE
    response.set_cookie(
        cookie,
        new.cookie,
        httponly=True,
        samesite="lax",
        max_age=int(sessions.SESSION_TTL.total_seconds()),
        secure=secure_cookies(platform),
    )
    return response


async def log_out(request: Request, cookie: str, scope: str, target: str) -> Response:
    platform = get_platform(request)
    form = await form_of(request)
    runner = get_runner(request)
    view = await runner.run(sessions.load, platform, request.cookies.get(cookie), scope)
    if view is not None and not sessions.csrf_valid(view.csrf_token, form.get("csrf_token")):
        return csrf_refusal(request)
    await runner.run(sessions.logout, platform, request.cookies.get(cookie))
    response = redirect(target)
    response.delete_cookie(cookie)
    return response


@router.get("/")
async def root(request: Request) -> Response:
    return redirect("/oa" if await operator_of(request) else "/login")


@router.get("/login")
async def login_page(request: Request) -> Response:
    if await operator_of(request):
        return redirect(safe_next(request.query_params.get("next"), "/oa"))
    context: dict[str, Any] = {"scope": "operator", "next": request.query_params.get("next", "")}
    if request.query_params.get("expired") == "1":
        context["notice"] = translator(lang_of(request))("login.expired")
    return render(request, "login.html", context)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    return await log_in(request, sessions.OPERATOR)


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await log_out(request, OPERATOR_COOKIE, sessions.OPERATOR, "/login")


@router.get("/logout")
def logout_url() -> Response:
    """Logging out takes the form (a GET must not end a session): opened directly, the console's start page."""
    return redirect("/")
