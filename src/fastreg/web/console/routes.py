"""The web console: OA operator pages (小程序管理 and the seven-step 快速注册并认证小程序 wizard), the phone
confirmation page, email activation and the MP console. Server-rendered (Jinja2), Chinese by default.

Every page reads its state from the services, so a reload or the back button shows the registration where
it is; every POST form carries a CSRF token and answers with a redirect (post/redirect/get: nothing is submitted
twice), a refused one back to its page with the errors and typed values in a flash (``flash.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from fastreg.adapters import crypto
from fastreg.adapters.qr import qr_data_uri
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import (
    CERTIFICATION_MANDATORY,
    PRINCIPAL_TYPE_NAMES_ZH,
    ConfirmationKind,
    ConfirmationStatus,
)
from fastreg.platform import Platform
from fastreg.services import confirmations, links, registration, sessions
from fastreg.web.console import flash, forms, queries
from fastreg.web.console.translations import DEFAULT_LANG, LANGS, translator
from fastreg.web.deps import get_platform, secure_cookies
from fastreg.web.inputs import check_form, database_id

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript", "favicon.ico": "image/x-icon"}

LANG_COOKIE = "fastreg_lang"
OPERATOR_COOKIE = "fastreg_session"
MP_COOKIE = "fastreg_mp_session"
ANON_COOKIE = "fastreg_csrf"
ANON_SALT = "anonymous-csrf"

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- rendering helpers


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
    raw = crypto.new_token()
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


# ---------------------------------------------------------------- operator session


@dataclass(frozen=True)
class OperatorCtx:
    session: sessions.SessionView
    who: sessions.OperatorIdentity

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


def operator_of(request: Request) -> OperatorCtx | None:
    platform = get_platform(request)
    view = sessions.load(platform, request.cookies.get(OPERATOR_COOKIE), sessions.OPERATOR)
    if view is None:
        return None
    who = sessions.operator_identity(platform, view.account_id)
    return OperatorCtx(view, who) if who else None


def login_redirect(request: Request, owner: str | None = None) -> RedirectResponse:
    """To the login page, then back to ``owner`` (the page whose form was posted) or to the page asked for.
    A form posted without a live session (logged out in another tab, expired) says the login has expired."""
    params = {"next": owner or request.url.path}
    if request.method == "POST":
        params["expired"] = "1"
    return redirect("/login?" + urlencode(params))


def safe_next(value: str | None, default: str) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def oa_page(
    request: Request, op: OperatorCtx, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    ctx = {"op": op.who, "nav": "miniprograms", **context}
    return render(request, name, ctx, status=status, csrf=op.csrf)


# ---------------------------------------------------------------- static files and the root


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


@router.get("/")
def root(request: Request) -> Response:
    return redirect("/oa" if operator_of(request) else "/login")


# ---------------------------------------------------------------- OA operator login


@router.get("/login")
def login_page(request: Request) -> Response:
    if operator_of(request):
        return redirect(safe_next(request.query_params.get("next"), "/oa"))
    context: dict[str, Any] = {"scope": "operator", "next": request.query_params.get("next", "")}
    if request.query_params.get("expired") == "1":
        context["notice"] = translator(lang_of(request))("login.expired")
    return render(request, "login.html", context)


async def _login(request: Request, scope: str) -> Response:
    platform = get_platform(request)
    form = await form_of(request)
    if not anon_csrf_ok(request, form):
        return csrf_refusal(request)
    try:
        new = sessions.login(platform, scope, form.get("email", ""), form.get("password", ""))
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


@router.post("/login")
async def login_submit(request: Request) -> Response:
    return await _login(request, sessions.OPERATOR)


async def _logout(request: Request, cookie: str, scope: str, target: str) -> Response:
    platform = get_platform(request)
    form = await form_of(request)
    view = sessions.load(platform, request.cookies.get(cookie), scope)
    if view is not None and not sessions.csrf_valid(view.csrf_token, form.get("csrf_token")):
        return csrf_refusal(request)
    sessions.logout(platform, request.cookies.get(cookie))
    response = redirect(target)
    response.delete_cookie(cookie)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await _logout(request, OPERATOR_COOKIE, sessions.OPERATOR, "/login")


@router.get("/logout")
def logout_url() -> Response:
    """Logging out takes the form (a GET must not end a session): opened directly, the console's start page."""
    return redirect("/")


# ---------------------------------------------------------------- OA home and 小程序管理


@router.get("/oa")
def oa_home(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    summary = queries.oa_summary(get_platform(request), op.who.oa_id)
    return oa_page(request, op, "oa_home.html", {"oa": summary, "nav": "home", "type_names": PRINCIPAL_TYPE_NAMES_ZH})


@router.get("/oa/miniprograms")
def miniprograms(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    platform = get_platform(request)
    refusal = registration.eligibility(platform, op.who.oa_id)
    context = {
        "oa": queries.oa_summary(platform, op.who.oa_id),
        "links": queries.linked_mps(platform, op.who.oa_id),
        "current": registration.current(platform, op.who.oa_id),
        "refusal": err_text(request, refusal) if refusal else None,
        # An OA that cannot fast-register at all (personal, unverified, ...) is not told of a quota to use.
        "blocked": err_text(request, refusal) if refusal and refusal.err not in QUOTA_REFUSALS else None,
        "history": queries.audit_history(platform, op.who.oa_appid, _page_number(request)),
        "notice": _notice(request),
    }
    return oa_page(request, op, "miniprograms.html", context)


def _page_number(request: Request) -> int:
    """``?page=N`` (1 when absent or not a small number; the query clamps it to the pages there are)."""
    raw = request.query_params.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1


# Refusals that leave the month's quota line true (used up, or one registration already under way).
QUOTA_REFUSALS = frozenset({Err.QUOTA_EXCEEDED, Err.PENDING_EXISTS})


def _notice(request: Request) -> str | None:
    key = request.query_params.get("notice")
    if key and key.replace("_", "").isalnum():
        return translator(lang_of(request))("notice." + key)
    return None


@router.get("/oa/miniprograms/add")
def add_chooser(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    platform = get_platform(request)
    refusal = registration.eligibility(platform, op.who.oa_id)
    context = {
        "refusal": err_text(request, refusal) if refusal else None,
        "pending": refusal is not None and refusal.err == Err.PENDING_EXISTS,  # offered 继续
    }
    return oa_page(request, op, "add.html", context)


@router.post("/oa/miniprograms/{mp_appid}/profile")
async def toggle_profile(request: Request, mp_appid: str) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request, "/oa/miniprograms")
    form = await form_of(request)
    if not sessions.csrf_valid(op.csrf, form.get("csrf_token")):
        return csrf_refusal(request)
    try:
        links.set_show_profile(
            get_platform(request), op.who.oa_appid, mp_appid, form.get("show") == "1", actor=op.who.email
        )
    except DomainError as error:
        return refused_form(request, "/oa/miniprograms", op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect("/oa/miniprograms?notice=profile_changed")


@router.post("/oa/miniprograms/{mp_appid}/unlink")
async def unlink(request: Request, mp_appid: str) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request, "/oa/miniprograms")
    form = await form_of(request)
    if not sessions.csrf_valid(op.csrf, form.get("csrf_token")):
        return csrf_refusal(request)
    try:
        links.unlink(get_platform(request), op.who.oa_appid, mp_appid, actor=op.who.email)
    except DomainError as error:
        return refused_form(request, "/oa/miniprograms", op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect("/oa/miniprograms?notice=unlinked")


@router.get("/oa/miniprograms/{mp_appid}/profile")
@router.get("/oa/miniprograms/{mp_appid}/unlink")
def link_form_url(mp_appid: str) -> Response:
    """The profile toggle's and the unlink's form URLs opened directly: 小程序管理, which owns those forms."""
    return redirect("/oa/miniprograms")


@router.get("/oa/miniprograms/link")
def link_page(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    return oa_page(request, op, "link.html", {})


@router.post("/oa/miniprograms/link")
async def link_submit(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request, "/oa/miniprograms/link")
    form = await form_of(request)
    if not sessions.csrf_valid(op.csrf, form.get("csrf_token")):
        return csrf_refusal(request)
    mp_appid = form.get("mp_appid", "").strip()
    notify, show = form.get("notify_users") == "1", form.get("show_profile") == "1"
    try:
        confirmation = links.request_link(get_platform(request), op.who.oa_appid, mp_appid, notify, show)
    except DomainError as error:
        refusal = flash.Flash(
            errors={error.field or "mp_appid": err_text(request, error)}, values=flash.kept_values(form)
        )
        return refused_form(request, "/oa/miniprograms/link", op.csrf, refusal)
    return redirect(f"/oa/miniprograms/link/{confirmation.id}")


def _own_link_confirmation(request: Request, op: OperatorCtx, confirmation_id: str) -> Any:
    view = _confirmation(get_platform(request), confirmation_id)
    if view is None or view.account_appid != op.who.oa_appid or view.kind != ConfirmationKind.LINK_OA_ADMIN:
        return None
    return view


@router.get("/oa/miniprograms/link/{confirmation_id}")
def link_waiting(request: Request, confirmation_id: str) -> Response:
    """The OA admin scans to approve the link; then the MP's admin confirms on their phone."""
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    view = _own_link_confirmation(request, op, confirmation_id)
    if view is None:
        return redirect("/oa/miniprograms")
    context: dict[str, Any] = {"c": view}
    if view.status == ConfirmationStatus.PENDING:
        context["qr"] = qr_data_uri(view.url)
    return oa_page(request, op, "link_waiting.html", context)


@router.get("/oa/miniprograms/link/{confirmation_id}/status")
def link_status(request: Request, confirmation_id: str) -> Response:
    op = operator_of(request)
    if op is None:
        return JSONResponse({"error": "login required"}, status_code=401)
    view = _own_link_confirmation(request, op, confirmation_id)
    return JSONResponse({"state": view.status if view else "gone"})


# ---------------------------------------------------------------- the wizard


STEP_TEMPLATES = {
    3: "wizard/step3_scan.html",
    4: "wizard/step4_qualifications.html",
    5: "wizard/step5_account.html",
    6: "wizard/step6_activation.html",
    7: "wizard/step7_admin.html",
}


def _confirmation(platform: Platform, digest: str | None) -> confirmations.ConfirmationView | None:
    """The registration's scan or admin confirmation (the registration keeps its digest)."""
    if not digest:
        return None
    try:
        return confirmations.describe_stored(platform, digest)
    except DomainError:
        return None


def _poll_state(
    view: Any,
    scan: confirmations.ConfirmationView | None,
    admin: confirmations.ConfirmationView | None,
    refusal: DomainError | None = None,
) -> str:
    parts = [str(view.status), str(view.step), str(bool(view.activated))]
    parts.append(scan.status if scan else "-")
    parts.append(admin.status if admin else "-")
    parts.append(str(refusal.errcode) if refusal else "-")
    return ":".join(parts)


def _step7_refusal(platform: Platform, oa_id: int, view: Any) -> DomainError | None:
    """At the admin-binding step: what would refuse the completion now (shown, and polled for)."""
    return registration.completion_refusal(platform, oa_id, view.id) if view.step == 7 else None


def _wizard_context(request: Request, op: OperatorCtx, view: Any) -> dict[str, Any]:
    platform = get_platform(request)
    scan = _confirmation(platform, view.scan_confirmation_id) if view.step == 3 else None
    admin = _confirmation(platform, view.admin_confirmation_id) if view.step == 7 else None
    refusal = _step7_refusal(platform, op.who.oa_id, view)
    oa = queries.oa_summary(platform, op.who.oa_id)
    context: dict[str, Any] = {
        "reg": view,
        "step": view.step,
        "oa": oa,
        "scan": scan,
        "admin": admin,
        "refusal": err_text(request, refusal) if refusal else None,
        "poll_state": _poll_state(view, scan, admin, refusal),
        "certification_locked": oa.principal_type in CERTIFICATION_MANDATORY,
        "operator_wxid": op.who.wxid,
    }
    if admin is not None:  # step 7's forms start from the admin asked so far (refresh, or correct a typo)
        by_operator = bool(view.reuse_operator and op.who.wxid and admin.allowed_wxid == op.who.wxid)
        context["current_admin_is_operator"] = by_operator
        context["values"] = (
            {"admin_choice": "operator"}
            if by_operator
            else {
                "admin_choice": "wxid",
                "admin_wxid": admin.allowed_wxid,
            }
        )
    live = scan if view.step == 3 else admin
    if live is not None and live.status == ConfirmationStatus.PENDING:
        context["qr"] = qr_data_uri(live.url)
        context["qr_url"] = live.url
    return context


def render_wizard(
    request: Request, op: OperatorCtx, view: Any, extra: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    context = _wizard_context(request, op, view)
    context.update(extra or {})
    return oa_page(request, op, STEP_TEMPLATES[view.step], context, status=status)


@router.get("/oa/fastreg")
def wizard(request: Request) -> Response:
    """The wizard at the registration's current step (step 1 when there is none)."""
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    platform = get_platform(request)
    view = registration.current(platform, op.who.oa_id)
    if view is None:
        refusal = registration.eligibility(platform, op.who.oa_id)
        context = {
            "step": 1,
            "oa": queries.oa_summary(platform, op.who.oa_id),
            "refusal": err_text(request, refusal) if refusal else None,
        }
        return oa_page(request, op, "wizard/step1_entry.html", context)
    # A step's notice is not shown once the registration has moved on (the page reloads itself in place).
    notice_step = WIZARD_NOTICE_STEPS.get(request.query_params.get("notice", ""), view.step)
    extra: dict[str, Any] = {"notice": _notice(request) if notice_step == view.step else None}
    if view.step == 4 and KEPT_NO_CERTIFICATION in request.url.query.split("&"):
        extra["values"] = {"reuse_certification": ""}  # back from step 5: the box stays as it was left
    return render_wizard(request, op, view, extra)


# The wizard's notices and the step each belongs to.
WIZARD_NOTICE_STEPS = {"activation_resent": 6, "email_changed": 6, "email_unchanged": 6, "activated": 7}

# Back from step 5 after choosing not to reuse the OA's certification (step 4's box defaults to reusing it).
KEPT_NO_CERTIFICATION = "reuse_certification=0"


@router.get("/oa/fastreg/protocol")
def wizard_protocol(request: Request) -> Response:
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    platform = get_platform(request)
    if registration.current(platform, op.who.oa_id) is not None:
        return redirect("/oa/fastreg")
    refusal = registration.eligibility(platform, op.who.oa_id)
    if refusal is not None:
        return redirect("/oa/fastreg")
    oa = queries.oa_summary(platform, op.who.oa_id)
    return oa_page(request, op, "wizard/step2_protocol.html", {"step": 2, "oa": oa})


async def _wizard_form(
    request: Request, owner: str = "/oa/fastreg"
) -> tuple[OperatorCtx | None, dict[str, str], Response | None]:
    """The operator and the form of a wizard POST, or the answer that stops it (no session: log in again and
    come back to ``owner``, the page of the form; a bad CSRF token)."""
    op = operator_of(request)
    if op is None:
        return None, {}, login_redirect(request, owner)
    form = await form_of(request)
    if not sessions.csrf_valid(op.csrf, form.get("csrf_token")):
        return op, form, csrf_refusal(request)
    return op, form, None


@router.post("/oa/fastreg/start")
async def wizard_start(request: Request) -> Response:
    op, form, stop = await _wizard_form(request, FORM_OWNERS["start"])
    if stop is not None or op is None:
        return stop or login_redirect(request, FORM_OWNERS["start"])
    platform = get_platform(request)
    if form.get("agree") != "1":
        message = translator(lang_of(request))("protocol.must_agree")
        return refused_form(request, FORM_OWNERS["start"], op.csrf, flash.Flash(errors={"agree": message}))
    try:
        view = registration.start(platform, op.who.operator_id)
        if view.step == 3 and not view.scan_confirmation_id:
            registration.new_scan(platform, op.who.oa_id, view.id)
    except DomainError as error:
        return refused_form(request, "/oa/fastreg", op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect("/oa/fastreg")


def _current_or_redirect(request: Request, op: OperatorCtx, form: dict[str, str]) -> tuple[Any, Response | None]:
    """The open registration the form is about; a form for another (stale) registration goes back to the wizard."""
    view = registration.current(get_platform(request), op.who.oa_id)
    if view is None or str(view.id) != form.get("registration_id"):
        return None, redirect("/oa/fastreg")
    return view, None


async def _wizard_action(request: Request, action: str) -> Response:
    op, form, stop = await _wizard_form(request)
    if stop is not None or op is None:
        return stop or login_redirect(request, "/oa/fastreg")
    view, stale = _current_or_redirect(request, op, form)
    if stale is not None:
        return stale
    platform = get_platform(request)
    oa_id, rid = op.who.oa_id, view.id
    notice: str | None = None
    errors = forms.form_errors(platform, action, form, translator(lang_of(request)), lang_of(request))
    if errors:  # every refusal of the form at once, empty required fields first
        refusal = flash.Flash(errors=errors, values=flash.kept_values(form), step=view.step)
        return refused_form(request, "/oa/fastreg", op.csrf, refusal)
    try:
        if action == "scan":
            registration.new_scan(platform, oa_id, rid, refresh=True)
        elif action == "back":
            if not registration.back_to_qualifications(platform, oa_id, rid):
                return redirect(f"/oa/fastreg?{KEPT_NO_CERTIFICATION}")  # step 4 shows the choice made
        elif action == "qualifications":
            registration.choose_qualifications(
                platform, oa_id, rid, form.get("reuse_certification") == "1", form.get("reuse_operator") == "1"
            )
        elif action == "account":
            registration.submit_account(
                platform,
                oa_id,
                rid,
                form.get("email", ""),
                form.get("password", ""),
                form.get("password_confirm", ""),
                form.get("mp_name", "").strip() or None,
            )
        elif action == "resend":
            registration.resend_activation(platform, oa_id, rid)
            notice = "activation_resent"
        elif action == "email":
            changed = registration.change_email(platform, oa_id, rid, form.get("email", ""))
            notice = "email_changed" if changed else "email_unchanged"
        elif action == "admin":
            wxid = None if form.get("admin_choice") == "operator" else form.get("admin_wxid", "").strip()
            if wxid == "":  # "another WeChat user" chosen, but no wxid given
                raise DomainError(Err.WXID_INVALID, field="admin_wxid")
            registration.bind_admin(platform, oa_id, rid, wxid)
        elif action == "cancel":
            registration.cancel(platform, oa_id, rid)
            return redirect("/oa/miniprograms?notice=registration_cancelled")
    except DomainError as error:
        if error.err is Err.WRONG_STATE:
            # A form replayed from the history (back button, resubmission): the registration has moved on.
            return redirect("/oa/fastreg")
        text = err_text(request, error)
        refusal = flash.Flash(
            errors={error.field: text} if error.field else {},
            error=None if error.field else text,
            values=flash.kept_values(form),
            step=view.step,
        )
        return refused_form(request, "/oa/fastreg", op.csrf, refusal)
    return redirect("/oa/fastreg" + (f"?notice={notice}" if notice else ""))


# The forms of wizard steps 3 to 7; each posts to /oa/fastreg/<action>.
WIZARD_ACTIONS = frozenset({"scan", "back", "qualifications", "account", "resend", "email", "admin", "cancel"})


# The page that owns each wizard form (where a GET of the form's URL, or a login after an expired session, leads).
FORM_OWNERS = {"start": "/oa/fastreg/protocol"} | {action: "/oa/fastreg" for action in WIZARD_ACTIONS}


@router.post("/oa/fastreg/{action}")
async def wizard_post(request: Request, action: str) -> Response:
    if action not in WIZARD_ACTIONS:
        raise HTTPException(404)
    return await _wizard_action(request, action)


@router.get("/oa/fastreg/status")
def wizard_status(request: Request) -> Response:
    """What the wizard page polls: its state string changes when the page must be reloaded."""
    op = operator_of(request)
    if op is None:  # the polling page goes to the login, and back to the wizard
        return JSONResponse({"error": "login required", "redirect": "/login?next=/oa/fastreg&expired=1"}, 401)
    platform = get_platform(request)
    view = registration.current(platform, op.who.oa_id)
    rid = request.query_params.get("registration_id", "")
    if view is None or str(view.id) != rid:
        wanted = database_id(rid)
        outcome = queries.registration_outcome(platform, op.who.oa_id, wanted) if wanted else None
        if outcome is not None and outcome.status == "completed":
            return JSONResponse({"state": "completed", "redirect": f"/oa/fastreg/done/{outcome.id}"})
        return JSONResponse({"state": "gone", "redirect": "/oa/fastreg"})
    scan = _confirmation(platform, view.scan_confirmation_id) if view.step == 3 else None
    admin = _confirmation(platform, view.admin_confirmation_id) if view.step == 7 else None
    refusal = _step7_refusal(platform, op.who.oa_id, view)
    return JSONResponse({"state": _poll_state(view, scan, admin, refusal), "step": view.step, "status": view.status})


@router.get("/oa/fastreg/{action}")
def wizard_form_url(action: str) -> Response:
    """A form's URL opened directly (typed, bookmarked, reached by going back): the page that owns the form."""
    if action not in FORM_OWNERS:
        raise HTTPException(404)
    return redirect(FORM_OWNERS[action])


@router.get("/oa/fastreg/done/{registration_id}")
def wizard_done(request: Request, registration_id: str) -> Response:
    wanted = database_id(registration_id)
    if wanted is None:
        raise HTTPException(404)
    op = operator_of(request)
    if op is None:
        return login_redirect(request)
    outcome = queries.registration_outcome(get_platform(request), op.who.oa_id, wanted)
    if outcome is None or outcome.status != "completed":
        return redirect("/oa/fastreg")
    return oa_page(request, op, "wizard/done.html", {"step": 8, "outcome": outcome})


# ---------------------------------------------------------------- email activation


@router.get("/activate/{token}")
def activate(request: Request, token: str) -> Response:
    platform = get_platform(request)
    try:
        registration.activate(platform, token)
    except DomainError as error:
        return render(request, "activated.html", {"ok": False, "message": err_text(request, error)}, status=400)
    if operator_of(request) is not None:
        return redirect("/oa/fastreg?notice=activated")
    return render(request, "activated.html", {"ok": True})


# The phone confirmation pages are in phone.py.


# ---------------------------------------------------------------- MP console


@router.get("/mp/login")
def mp_login_page(request: Request) -> Response:
    platform = get_platform(request)
    if sessions.load(platform, request.cookies.get(MP_COOKIE), sessions.MP):
        return redirect("/mp")
    return render(request, "login.html", {"scope": "mp", "next": ""})


@router.post("/mp/login")
async def mp_login_submit(request: Request) -> Response:
    return await _login(request, sessions.MP)


@router.post("/mp/logout")
async def mp_logout(request: Request) -> Response:
    return await _logout(request, MP_COOKIE, sessions.MP, "/mp/login")


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
