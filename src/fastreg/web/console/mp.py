"""The MP console: the Mini Program's login and home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from fastreg.domain.model import PRINCIPAL_TYPE_NAMES_ZH
from fastreg.platform import Platform
from fastreg.services import console_views, sessions
from fastreg.web.console.auth import MP_COOKIE, log_in, log_out
from fastreg.web.console.render import redirect, render
from fastreg.web.deps import get_platform, get_runner

router = APIRouter(include_in_schema=False)


@router.get("/mp/login")
async def mp_login_page(request: Request) -> Response:
    platform = get_platform(request)
    if await get_runner(request).run(sessions.load, platform, request.cookies.get(MP_COOKIE), sessions.MP):
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


def _mp_home(platform: Platform, cookie: str | None) -> tuple[sessions.SessionView, console_views.MPSummary] | None:
    view = sessions.load(platform, cookie, sessions.MP)
    summary = console_views.mp_summary(platform, view.account_id) if view is not None else None
    return (view, summary) if view is not None and summary is not None else None


@router.get("/mp")
async def mp_home(request: Request) -> Response:
    found = await get_runner(request).run(_mp_home, get_platform(request), request.cookies.get(MP_COOKIE))
    if found is None:
        return redirect("/mp/login")
    view, summary = found
    return render(request, "mp_home.html", {"mp": summary, "type_names": PRINCIPAL_TYPE_NAMES_ZH}, csrf=view.csrf_token)
