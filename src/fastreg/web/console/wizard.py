"""The seven-step 快速注册并认证小程序 wizard, and the email activation its step 6 waits for.

Every page reads the registration from the services, so a reload or the back button shows it where it is; each
step's form posts to its own URL (``/oa/fastreg/<action>``) and answers with a redirect back to the wizard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from fastreg.adapters.qr import qr_data_uri
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import CERTIFICATION_MANDATORY, ConfirmationStatus
from fastreg.platform import Platform
from fastreg.services import confirmations, console_views, registration
from fastreg.web.console import flash, forms
from fastreg.web.console.auth import (
    CsrfForm,
    CurrentOperator,
    OperatorCtx,
    form_owner,
    login_redirect,
    oa_page,
    operator_of,
)
from fastreg.web.console.render import err_text, lang_of, notice_of, redirect, refused_form, render
from fastreg.web.console.translations import translator
from fastreg.web.deps import get_platform, get_runner
from fastreg.web.inputs import database_id

WIZARD = "/oa/fastreg"
PROTOCOL = "/oa/fastreg/protocol"

STEP_TEMPLATES = {
    3: "wizard/step3_scan.html",
    4: "wizard/step4_qualifications.html",
    5: "wizard/step5_account.html",
    6: "wizard/step6_activation.html",
    7: "wizard/step7_admin.html",
}

# The wizard's notices and the step each belongs to.
WIZARD_NOTICE_STEPS = {"activation_resent": 6, "email_changed": 6, "email_unchanged": 6, "activated": 7}

# Back from step 5 after choosing not to reuse the OA's certification (step 4's box defaults to reusing it).
KEPT_NO_CERTIFICATION = "reuse_certification=0"

# The forms of wizard steps 3 to 7; each posts to /oa/fastreg/<action>.
WIZARD_ACTIONS = frozenset({"scan", "back", "qualifications", "account", "resend", "email", "admin", "cancel"})

# The page that owns each wizard form (where a GET of the form's URL, or a login after an expired session, leads).
FORM_OWNERS = {"start": PROTOCOL} | {action: WIZARD for action in WIZARD_ACTIONS}

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- the pages


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


def _live_confirmations(
    platform: Platform, view: Any
) -> tuple[confirmations.ConfirmationView | None, confirmations.ConfirmationView | None]:
    """(step 3's scan, step 7's admin confirmation): the one the registration's step waits for, if any."""
    scan = console_views.confirmation(platform, view.scan_confirmation_id, stored=True) if view.step == 3 else None
    admin = console_views.confirmation(platform, view.admin_confirmation_id, stored=True) if view.step == 7 else None
    return scan, admin


def _wizard_context(request: Request, op: OperatorCtx, view: Any) -> dict[str, Any]:
    platform = get_platform(request)
    scan, admin = _live_confirmations(platform, view)
    refusal = _step7_refusal(platform, op.who.oa_id, view)
    oa = console_views.oa_summary(platform, op.who.oa_id)
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


@router.get(WIZARD)
async def wizard(request: Request, op: CurrentOperator) -> Response:
    """The wizard at the registration's current step (step 1 when there is none)."""
    return await get_runner(request).run(_wizard, request, op)


def _wizard(request: Request, op: OperatorCtx) -> Response:
    platform = get_platform(request)
    view = registration.current(platform, op.who.oa_id)
    if view is None:
        refusal = registration.eligibility(platform, op.who.oa_id)
        context = {
            "step": 1,
            "oa": console_views.oa_summary(platform, op.who.oa_id),
            "refusal": err_text(request, refusal) if refusal else None,
        }
        return oa_page(request, op, "wizard/step1_entry.html", context)
    # A step's notice is not shown once the registration has moved on (the page reloads itself in place).
    notice_step = WIZARD_NOTICE_STEPS.get(request.query_params.get("notice", ""), view.step)
    extra: dict[str, Any] = {"notice": notice_of(request) if notice_step == view.step else None}
    if view.step == 4 and KEPT_NO_CERTIFICATION in request.url.query.split("&"):
        extra["values"] = {"reuse_certification": ""}  # back from step 5: the box stays as it was left
    return render_wizard(request, op, view, extra)


@router.get(PROTOCOL)
async def wizard_protocol(request: Request, op: CurrentOperator) -> Response:
    return await get_runner(request).run(_protocol, request, op)


def _protocol(request: Request, op: OperatorCtx) -> Response:
    platform = get_platform(request)
    if registration.current(platform, op.who.oa_id) is not None:
        return redirect(WIZARD)
    refusal = registration.eligibility(platform, op.who.oa_id)
    if refusal is not None:
        return redirect(WIZARD)
    oa = console_views.oa_summary(platform, op.who.oa_id)
    return oa_page(request, op, "wizard/step2_protocol.html", {"step": 2, "oa": oa})


# ---------------------------------------------------------------- the steps' forms


@router.post("/oa/fastreg/start", dependencies=[form_owner(PROTOCOL)])
async def wizard_start(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    platform = get_platform(request)
    if form.get("agree") != "1":
        message = translator(lang_of(request))("protocol.must_agree")
        return refused_form(request, PROTOCOL, op.csrf, flash.Flash(errors={"agree": message}))
    try:
        await get_runner(request).run(_start, platform, op)
    except DomainError as error:
        return refused_form(request, WIZARD, op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect(WIZARD)


def _start(platform: Platform, op: OperatorCtx) -> None:
    view = registration.start(platform, op.who.operator_id)
    if view.step == 3 and not view.scan_confirmation_id:
        registration.new_scan(platform, op.who.oa_id, view.id)


# What a step's use case answers: nothing (back to the wizard), a notice key for it, or a page of its own.
Outcome = str | Response | None
Action = Callable[[Platform, int, int], Outcome]


def _step(request: Request, op: OperatorCtx, form: dict[str, str], action: str, use_case: Action) -> Response:
    """Run the use case of a step's form for the open registration the form is about (a form for another, stale,
    registration goes back to the wizard), after the form's own checks; a refusal goes back to the step."""
    platform = get_platform(request)
    view = registration.current(platform, op.who.oa_id)
    if view is None or str(view.id) != form.get("registration_id"):
        return redirect(WIZARD)
    errors = forms.form_errors(platform, action, form, translator(lang_of(request)), lang_of(request))
    if errors:  # every refusal of the form at once, empty required fields first
        refusal = flash.Flash(errors=errors, values=flash.kept_values(form), step=view.step)
        return refused_form(request, WIZARD, op.csrf, refusal)
    try:
        outcome = use_case(platform, op.who.oa_id, view.id)
    except DomainError as error:
        if error.err is Err.WRONG_STATE:
            # A form replayed from the history (back button, resubmission): the registration has moved on.
            return redirect(WIZARD)
        text = err_text(request, error)
        refusal = flash.Flash(
            errors={error.field: text} if error.field else {},
            error=None if error.field else text,
            values=flash.kept_values(form),
            step=view.step,
        )
        return refused_form(request, WIZARD, op.csrf, refusal)
    if isinstance(outcome, Response):
        return outcome
    return redirect(WIZARD + (f"?notice={outcome}" if outcome else ""))


@router.post("/oa/fastreg/scan", dependencies=[form_owner(WIZARD)])
async def wizard_scan(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        registration.new_scan(platform, oa_id, rid, refresh=True)
        return None

    return await get_runner(request).run(_step, request, op, form, "scan", step)


@router.post("/oa/fastreg/back", dependencies=[form_owner(WIZARD)])
async def wizard_back(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        if not registration.back_to_qualifications(platform, oa_id, rid):
            return redirect(f"{WIZARD}?{KEPT_NO_CERTIFICATION}")  # step 4 shows the choice made
        return None

    return await get_runner(request).run(_step, request, op, form, "back", step)


@router.post("/oa/fastreg/qualifications", dependencies=[form_owner(WIZARD)])
async def wizard_qualifications(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        reuse_certification, reuse_operator = form.get("reuse_certification") == "1", form.get("reuse_operator") == "1"
        registration.choose_qualifications(platform, oa_id, rid, reuse_certification, reuse_operator)
        return None

    return await get_runner(request).run(_step, request, op, form, "qualifications", step)


@router.post("/oa/fastreg/account", dependencies=[form_owner(WIZARD)])
async def wizard_account(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        registration.submit_account(
            platform,
            oa_id,
            rid,
            form.get("email", ""),
            form.get("password", ""),
            form.get("password_confirm", ""),
            form.get("mp_name", "").strip() or None,
        )
        return None

    return await get_runner(request).run(_step, request, op, form, "account", step)


@router.post("/oa/fastreg/resend", dependencies=[form_owner(WIZARD)])
async def wizard_resend(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        registration.resend_activation(platform, oa_id, rid)
        return "activation_resent"

    return await get_runner(request).run(_step, request, op, form, "resend", step)


@router.post("/oa/fastreg/email", dependencies=[form_owner(WIZARD)])
async def wizard_email(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        changed = registration.change_email(platform, oa_id, rid, form.get("email", ""))
        return "email_changed" if changed else "email_unchanged"

    return await get_runner(request).run(_step, request, op, form, "email", step)


@router.post("/oa/fastreg/admin", dependencies=[form_owner(WIZARD)])
async def wizard_admin(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        wxid = None if form.get("admin_choice") == "operator" else form.get("admin_wxid", "").strip()
        if wxid == "":  # "another WeChat user" chosen, but no wxid given
            raise DomainError(Err.WXID_INVALID, field="admin_wxid")
        registration.bind_admin(platform, oa_id, rid, wxid)
        return None

    return await get_runner(request).run(_step, request, op, form, "admin", step)


@router.post("/oa/fastreg/cancel", dependencies=[form_owner(WIZARD)])
async def wizard_cancel(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    def step(platform: Platform, oa_id: int, rid: int) -> Outcome:
        registration.cancel(platform, oa_id, rid)
        return redirect("/oa/miniprograms?notice=registration_cancelled")

    return await get_runner(request).run(_step, request, op, form, "cancel", step)


@router.post("/oa/fastreg/{action}")
def wizard_unknown_form(action: str) -> Response:
    """No form posts there (the status poll, the protocol page, a typo)."""
    raise HTTPException(404)


# ---------------------------------------------------------------- the poll, form URLs, the end


@router.get("/oa/fastreg/status")
async def wizard_status(request: Request) -> Response:
    """What the wizard page polls: its state string changes when the page must be reloaded."""
    op = await operator_of(request)
    if op is None:  # the polling page goes to the login, and back to the wizard
        return JSONResponse({"error": "login required", "redirect": "/login?next=/oa/fastreg&expired=1"}, 401)
    return await get_runner(request).run(_status, request, op)


def _status(request: Request, op: OperatorCtx) -> Response:
    platform = get_platform(request)
    view = registration.current(platform, op.who.oa_id)
    rid = request.query_params.get("registration_id", "")
    if view is None or str(view.id) != rid:
        wanted = database_id(rid)
        outcome = console_views.registration_outcome(platform, op.who.oa_id, wanted) if wanted else None
        if outcome is not None and outcome.status == "completed":
            return JSONResponse({"state": "completed", "redirect": f"/oa/fastreg/done/{outcome.id}"})
        return JSONResponse({"state": "gone", "redirect": WIZARD})
    scan, admin = _live_confirmations(platform, view)
    refusal = _step7_refusal(platform, op.who.oa_id, view)
    return JSONResponse({"state": _poll_state(view, scan, admin, refusal), "step": view.step, "status": view.status})


@router.get("/oa/fastreg/{action}")
def wizard_form_url(action: str) -> Response:
    """A form's URL opened directly (typed, bookmarked, reached by going back): the page that owns the form."""
    if action not in FORM_OWNERS:
        raise HTTPException(404)
    return redirect(FORM_OWNERS[action])


@router.get("/oa/fastreg/done/{registration_id}")
async def wizard_done(request: Request, registration_id: str) -> Response:
    wanted = database_id(registration_id)
    if wanted is None:
        raise HTTPException(404)
    op = await operator_of(request)
    if op is None:
        return login_redirect(request)
    outcome = await get_runner(request).run(
        console_views.registration_outcome, get_platform(request), op.who.oa_id, wanted
    )
    if outcome is None or outcome.status != "completed":
        return redirect(WIZARD)
    return oa_page(request, op, "wizard/done.html", {"step": 8, "outcome": outcome})


@router.get("/activate/{token}")
async def activate(request: Request, token: str) -> Response:
    try:
        await get_runner(request).run(registration.activate, get_platform(request), token)
    except DomainError as error:
        return render(request, "activated.html", {"ok": False, "message": err_text(request, error)}, status=400)
    if await operator_of(request) is not None:
        return redirect("/oa/fastreg?notice=activated")
    return render(request, "activated.html", {"ok": True})
