"""The phone pages: where the person holding the phone answers a confirmation (reached by scanning a QR code).

Who is holding the phone depends on the mode, through one dependency (:func:`phone_holder`) with two sources:
- the sandbox, a test double, takes the wxid the person declares (``?wxid=``, the form's ``wxid`` field);
- production knows it only from a phone session: a WeChat user created by an operator (``fastreg user create``)
  enrols through a one-time link, then logs in here with wxid and password.

The same templates serve both. In production the page never shows which wxid may answer: until the person logs
in it asks them to, a wrong user learns only that the confirmation is not theirs, and the answer is checked
against the logged-in user, never against anything the form sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind, ConfirmationStatus
from fastreg.platform import Platform
from fastreg.services import confirmations, sessions, wechat_users
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

PHONE_COOKIE = "fastreg_phone_session"
PHONE_COOKIE_PATH = "/m"

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- who is holding the phone


@dataclass(frozen=True)
class Holder:
    """The person holding the phone: their wxid when known, and (production) the phone session proving it."""

    wxid: str | None
    session: sessions.SessionView | None = None

    @property
    def csrf(self) -> str | None:
        return self.session.csrf_token if self.session else None


async def declared_holder(request: Request) -> Holder:
    """The sandbox: whoever the person says they are (``?wxid=`` on the page, the ``wxid`` field of its form)."""
    if request.method == "POST":
        wxid = (await form_of(request)).get("wxid", "")
    else:
        wxid = request.query_params.get("wxid", "")
    return Holder(wxid.strip() or None)


def _logged_in(platform: Platform, cookie: str | None) -> Holder:
    view = sessions.load(platform, cookie, sessions.PHONE)
    wxid = wechat_users.wxid_of(platform, view.account_id) if view else None
    return Holder(wxid, view) if wxid else Holder(None)


async def session_holder(request: Request) -> Holder:
    """Production: the WeChat user of the phone session, if any."""
    return await get_runner(request).run(_logged_in, get_platform(request), request.cookies.get(PHONE_COOKIE))


async def phone_holder(request: Request) -> Holder:
    """Who is holding the phone, from the source the mode uses."""
    source = declared_holder if get_platform(request).settings.is_sandbox else session_holder
    return await source(request)


HolderDep = Depends(phone_holder)


def _production_only(request: Request) -> Response | None:
    """Phone logins exist in production only: the sandbox takes the wxid as declared."""
    return Response(status_code=404) if get_platform(request).settings.is_sandbox else None


def _set_session_cookie(request: Request, response: Response, new: sessions.NewSession) -> Response:
    response.set_cookie(
        PHONE_COOKIE,
        new.cookie,
        path=PHONE_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(get_platform(request)),
        max_age=int(sessions.SESSION_TTL.total_seconds()),
    )
    return response


# ---------------------------------------------------------------- the confirmation page

DETAILS, LOGIN, NOT_YOURS = "details", "login", "not_yours"


def _confirm_page(
    request: Request,
    view: confirmations.ConfirmationView,
    holder: Holder,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    platform = get_platform(request)
    if platform.settings.is_sandbox:
        state, who = DETAILS, view.allowed_wxid
    elif holder.wxid is None:
        state, who = LOGIN, None
    elif holder.wxid != view.allowed_wxid:
        state, who = NOT_YOURS, None
        error = error or _answer_refusal(request, DomainError(Err.NOT_ALLOWED), view)
    else:
        state, who = DETAILS, holder.wxid
    context: dict[str, Any] = {
        "c": view,
        "payload": view.payload if state == DETAILS else {},
        "state": state,
        "who": who,
        "holder": holder,
        "sandbox": platform.settings.is_sandbox,
        "error": error,
        "next": request.url.path,
        "values": {},
    }
    return render(request, "phone/confirm.html", context, status=status, csrf=holder.csrf)


def _answer_refusal(request: Request, error: DomainError, view: confirmations.ConfirmationView) -> str:
    """Why an answer is refused; a wrong person is told that the admin invitation is not theirs (there is no
    account of theirs to administer yet)."""
    if error.err == Err.NOT_ALLOWED and view.kind == ConfirmationKind.BIND_ADMIN:
        return translator(lang_of(request))("phone.not_invited")
    return err_text(request, error)


def _missing(request: Request, error: DomainError, holder: Holder) -> HTMLResponse:
    return render(request, "phone/message.html", {"message": err_text(request, error)}, status=404, csrf=holder.csrf)


@router.get("/m/confirm/{confirmation_id}")
async def phone_page(request: Request, confirmation_id: str, holder: Holder = HolderDep) -> Response:
    try:
        view = await get_runner(request).run(confirmations.describe, get_platform(request), confirmation_id)
    except DomainError as error:
        return _missing(request, error, holder)
    return _confirm_page(request, view, holder)


ANSWER_STATUS = {Err.NOT_ALLOWED: 403, Err.CONFIRMATION_CLOSED: 409, Err.NOT_FOUND: 404}


def _page_of(request: Request, path: str, holder: Holder) -> str:
    """A phone page's URL for this holder: the sandbox keeps the declared wxid in the query."""
    declared = get_platform(request).settings.is_sandbox and holder.wxid
    return path + ("?" + urlencode({"wxid": holder.wxid}) if declared else "")


def _refused_answer(request: Request, confirmation_id: str, holder: Holder, refusal: flash.Flash) -> Response:
    """Post/redirect/get: back to the confirmation page, which shows why (once) with the refusal's status."""
    binding = holder.csrf or _anon_binding(request)
    return refused_form(request, _page_of(request, f"/m/confirm/{confirmation_id}", holder), binding, refusal)


def _anon_binding(request: Request) -> str:
    return request.cookies.get(ANON_COOKIE, "")


@router.post("/m/confirm/{confirmation_id}")
async def phone_answer(request: Request, confirmation_id: str, holder: Holder = HolderDep) -> Response:
    """Confirm or cancel, then post/redirect/get: the answer's result page, or the confirmation page showing
    why the answer was refused."""
    platform = get_platform(request)
    form = await form_of(request)
    csrf_ok = (
        sessions.csrf_valid(holder.csrf, form.get("csrf_token")) if holder.session else anon_csrf_ok(request, form)
    )
    if not csrf_ok:
        return csrf_refusal(request)
    try:
        view = await get_runner(request).run(confirmations.describe, platform, confirmation_id)
    except DomainError as error:
        return _missing(request, error, holder)
    if holder.wxid is None and not platform.settings.is_sandbox:
        return _refused_answer(request, view.id, holder, flash.Flash(status=401))  # log in first
    try:
        await get_runner(request).run(
            confirmations.answer, platform, confirmation_id, holder.wxid or "", form.get("action", "")
        )
    except DomainError as error:
        refusal = flash.Flash(error=_answer_refusal(request, error, view), status=ANSWER_STATUS.get(error.err, 400))
        return _refused_answer(request, view.id, holder, refusal)
    return redirect(_page_of(request, f"/m/confirm/{view.id}/result", holder))


@router.get("/m/confirm/{confirmation_id}/result")
async def phone_result(request: Request, confirmation_id: str, holder: Holder = HolderDep) -> Response:
    """What the person's answer did, for the person who answered; anyone else, or a confirmation not answered
    (still waiting, expired), is sent to the confirmation page."""
    try:
        view = await get_runner(request).run(confirmations.describe, get_platform(request), confirmation_id)
    except DomainError as error:
        return _missing(request, error, holder)
    answered = view.status in (ConfirmationStatus.CONFIRMED, ConfirmationStatus.CANCELLED)
    if not answered or holder.wxid != view.allowed_wxid:
        return redirect(_page_of(request, f"/m/confirm/{view.id}", holder))
    return render(request, "phone/done.html", {"c": view, "result": view}, csrf=holder.csrf)


# ---------------------------------------------------------------- phone login (production)


def _login_failure(request: Request, error: DomainError) -> str:
    if error.err is Err.LOGIN_FAILED:
        return translator(lang_of(request))("phone.login_failed")
    return err_text(request, error)


@router.get("/m/login")
async def phone_login_page(request: Request, holder: Holder = HolderDep) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    target = safe_next(request.query_params.get("next"), "/m")
    if holder.wxid is not None:
        return redirect(target)
    return render(request, "phone/login.html", {"next": target})


@router.post("/m/login")
async def phone_login(request: Request) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    form = await form_of(request)
    if not anon_csrf_ok(request, form):
        return csrf_refusal(request)
    target = safe_next(form.get("next"), "/m")
    wxid = form.get("wxid", "")
    try:
        new = await get_runner(request).run(
            sessions.login, get_platform(request), sessions.PHONE, wxid, form.get("password", "")
        )
    except DomainError as error:
        context = {"next": target, "values": {"wxid": wxid.strip()}, "error": _login_failure(request, error)}
        return render(request, "phone/login.html", context, status=429 if error.err is Err.LOGIN_LOCKED else 400)
    return _set_session_cookie(request, redirect(target), new)


@router.post("/m/logout")
async def phone_logout(request: Request, holder: Holder = HolderDep) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    form = await form_of(request)
    if holder.session is not None and not sessions.csrf_valid(holder.csrf, form.get("csrf_token")):
        return csrf_refusal(request)
    await get_runner(request).run(sessions.logout, get_platform(request), request.cookies.get(PHONE_COOKIE))
    response = redirect("/m/login?" + urlencode({"next": safe_next(form.get("next"), "/m")}))
    response.delete_cookie(PHONE_COOKIE, path=PHONE_COOKIE_PATH)
    return response


@router.get("/m")
async def phone_home(request: Request, holder: Holder = HolderDep) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    if holder.wxid is None:
        return redirect("/m/login")
    enrolled = request.query_params.get("notice") == "enrolled"
    notice = translator(lang_of(request))("phone.enrolled") if enrolled else None
    return render(request, "phone/home.html", {"holder": holder, "notice": notice}, csrf=holder.csrf)


# ---------------------------------------------------------------- enrolment (production)


@router.get("/m/enrol/{token}")
async def enrol_page(request: Request, token: str) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    try:
        wxid = await get_runner(request).run(wechat_users.enrolment_wxid, get_platform(request), token)
    except DomainError as error:
        return render(request, "phone/message.html", {"message": err_text(request, error)}, status=400)
    return render(request, "phone/enrol.html", {"wxid": wxid, "token": token})


@router.post("/m/enrol/{token}")
async def enrol(request: Request, token: str) -> Response:
    if (stop := _production_only(request)) is not None:
        return stop
    platform = get_platform(request)
    form = await form_of(request)
    if not anon_csrf_ok(request, form):
        return csrf_refusal(request)
    wxid: str | None = None
    try:
        wxid = await get_runner(request).run(wechat_users.enrolment_wxid, platform, token)
        new = await get_runner(request).run(
            wechat_users.enrol, platform, token, form.get("password", ""), form.get("password_confirm", "")
        )
    except DomainError as error:
        if error.field is None or wxid is None:  # the link itself: unknown, used or expired
            return render(request, "phone/message.html", {"message": err_text(request, error)}, status=400)
        context = {"wxid": wxid, "token": token, "errors": {error.field: err_text(request, error)}}
        return render(request, "phone/enrol.html", context, status=400)
    return _set_session_cookie(request, redirect("/m?notice=enrolled"), new)
