"""The OA operator's pages: the OA home, 小程序管理 (the linked Mini Programs, the registration under way, the
history), and linking an existing Mini Program."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from fastreg.adapters.qr import qr_data_uri
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import PRINCIPAL_TYPE_NAMES_ZH, ConfirmationKind, ConfirmationStatus
from fastreg.services import console_views, links, registration
from fastreg.web.console import flash
from fastreg.web.console.auth import CsrfForm, CurrentOperator, OperatorCtx, form_owner, oa_page, operator_of
from fastreg.web.console.render import err_text, notice_of, redirect, refused_form
from fastreg.web.deps import get_platform, get_runner

router = APIRouter(include_in_schema=False)

# Refusals that leave the month's quota line true (used up, or one registration already under way).
QUOTA_REFUSALS = frozenset({Err.QUOTA_EXCEEDED, Err.PENDING_EXISTS})


@router.get("/oa")
async def oa_home(request: Request, op: CurrentOperator) -> Response:
    summary = await get_runner(request).run(console_views.oa_summary, get_platform(request), op.who.oa_id)
    return oa_page(request, op, "oa_home.html", {"oa": summary, "nav": "home", "type_names": PRINCIPAL_TYPE_NAMES_ZH})


@router.get("/oa/miniprograms")
async def miniprograms(request: Request, op: CurrentOperator) -> Response:
    return await get_runner(request).run(_miniprograms, request, op)


def _miniprograms(request: Request, op: OperatorCtx) -> Response:
    platform = get_platform(request)
    refusal = registration.eligibility(platform, op.who.oa_id)
    context = {
        "oa": console_views.oa_summary(platform, op.who.oa_id),
        "links": console_views.linked_mps(platform, op.who.oa_id),
        "current": registration.current(platform, op.who.oa_id),
        "refusal": err_text(request, refusal) if refusal else None,
        # An OA that cannot fast-register at all (personal, unverified, ...) is not told of a quota to use.
        "blocked": err_text(request, refusal) if refusal and refusal.err not in QUOTA_REFUSALS else None,
        "history": console_views.audit_history(platform, op.who.oa_appid, _page_number(request)),
        "notice": notice_of(request),
    }
    return oa_page(request, op, "miniprograms.html", context)


def _page_number(request: Request) -> int:
    """``?page=N`` (1 when absent or not a small number; the query clamps it to the pages there are)."""
    raw = request.query_params.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 1


@router.get("/oa/miniprograms/add")
async def add_chooser(request: Request, op: CurrentOperator) -> Response:
    refusal = await get_runner(request).run(registration.eligibility, get_platform(request), op.who.oa_id)
    context = {
        "refusal": err_text(request, refusal) if refusal else None,
        "pending": refusal is not None and refusal.err == Err.PENDING_EXISTS,  # offered 继续
    }
    return oa_page(request, op, "add.html", context)


@router.post("/oa/miniprograms/{mp_appid}/profile", dependencies=[form_owner("/oa/miniprograms")])
async def toggle_profile(request: Request, mp_appid: str, op: CurrentOperator, form: CsrfForm) -> Response:
    try:
        await get_runner(request).run(
            links.set_show_profile,
            get_platform(request),
            op.who.oa_appid,
            mp_appid,
            form.get("show") == "1",
            actor=op.who.email,
        )
    except DomainError as error:
        return refused_form(request, "/oa/miniprograms", op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect("/oa/miniprograms?notice=profile_changed")


@router.post("/oa/miniprograms/{mp_appid}/unlink", dependencies=[form_owner("/oa/miniprograms")])
async def unlink(request: Request, mp_appid: str, op: CurrentOperator, form: CsrfForm) -> Response:
    try:
        await get_runner(request).run(
            links.unlink, get_platform(request), op.who.oa_appid, mp_appid, actor=op.who.email
        )
    except DomainError as error:
        return refused_form(request, "/oa/miniprograms", op.csrf, flash.Flash(error=err_text(request, error)))
    return redirect("/oa/miniprograms?notice=unlinked")


@router.get("/oa/miniprograms/{mp_appid}/profile")
@router.get("/oa/miniprograms/{mp_appid}/unlink")
def link_form_url(mp_appid: str) -> Response:
    """The profile toggle's and the unlink's form URLs opened directly: 小程序管理, which owns those forms."""
    return redirect("/oa/miniprograms")


@router.get("/oa/miniprograms/link")
def link_page(request: Request, op: CurrentOperator) -> Response:
    return oa_page(request, op, "link.html", {})


@router.post("/oa/miniprograms/link", dependencies=[form_owner("/oa/miniprograms/link")])
async def link_submit(request: Request, op: CurrentOperator, form: CsrfForm) -> Response:
    mp_appid = form.get("mp_appid", "").strip()
    notify, show = form.get("notify_users") == "1", form.get("show_profile") == "1"
    try:
        confirmation = await get_runner(request).run(
            links.request_link, get_platform(request), op.who.oa_appid, mp_appid, notify, show
        )
    except DomainError as error:
        refusal = flash.Flash(
            errors={error.field or "mp_appid": err_text(request, error)}, values=flash.kept_values(form)
        )
        return refused_form(request, "/oa/miniprograms/link", op.csrf, refusal)
    return redirect(f"/oa/miniprograms/link/{confirmation.id}")


async def _own_link_confirmation(request: Request, op: OperatorCtx, confirmation_id: str) -> Any:
    view = await get_runner(request).run(console_views.confirmation, get_platform(request), confirmation_id)
    if view is None or view.account_appid != op.who.oa_appid or view.kind != ConfirmationKind.LINK_OA_ADMIN:
        return None
    return view


@router.get("/oa/miniprograms/link/{confirmation_id}")
async def link_waiting(request: Request, confirmation_id: str, op: CurrentOperator) -> Response:
    """The OA admin scans to approve the link; then the MP's admin confirms on their phone."""
    view = await _own_link_confirmation(request, op, confirmation_id)
    if view is None:
        return redirect("/oa/miniprograms")
    context: dict[str, Any] = {"c": view}
    if view.status == ConfirmationStatus.PENDING:
        context["qr"] = qr_data_uri(view.url)
    return oa_page(request, op, "link_waiting.html", context)


@router.get("/oa/miniprograms/link/{confirmation_id}/status")
async def link_status(request: Request, confirmation_id: str) -> Response:
    op = await operator_of(request)
    if op is None:
        return JSONResponse({"error": "login required"}, status_code=401)
    view = await _own_link_confirmation(request, op, confirmation_id)
    return JSONResponse({"state": view.status if view else "gone"})
