"""The MP console: the Mini Program's login and home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fastreg.domain.model import PRINCIPAL_TYPE_NAMES_ZH
from fastreg.services import sessions
from fastreg.web.console import queries
from fastreg.web.console.auth import MP_COOKIE, log_in, log_out
from fastreg.web.console.render import redirect, render
from fastreg.web.deps import get_platform

router = APIRouter(include_in_schema=False)


@router.get("/mp/login")
def mp_login_page(request: Request) -> Response:
    platform = get_platform(request)
    if sessions.load(platform, request.cookies.get(MP_COOKIE), sessions.MP):
        return redirect("/mp")
    return render(request, "login.html", {"scope": "mp", "next": ""})


@router.post("/mp/login")
async def mp_login_submit(request: Request) -> Response:
    return await log_in(request, sessions.MP)


@router.post("/mp/logout")
async def mp_logout(request: Request) -> Response:
    return await log_out(request, MP_COOKIE, sessions.MP, "/mp/login")


@router.get("/mp/logout")
def mp_logout_url() -> Response:
    return redirect("/mp")


@router.get("/mp")
def mp_home(request: Request) -> Response:
    platform = get_platform(request)
    view = sessions.load(platform, request.cookies.get(MP_COOKIE), sessions.MP)
    if view is None:
        return redirect("/mp/login")
    summary = queries.mp_summary(platform, view.account_id)
    if summary is None:
        return redirect("/mp/login")
    return render(request, "mp_home.html", {"mp": summary, "type_names": PRINCIPAL_TYPE_NAMES_ZH}, csrf=view.csrf_token)
