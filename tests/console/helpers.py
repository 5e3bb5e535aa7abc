"""Helpers for the browser tests: accounts through the sandbox API, logging in, reading QR codes from the
screen, screenshots under tests/artifacts/, and quick set-up of completed registrations through the services."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fastreg.adapters.db.models import Operator
from fastreg.platform import Platform
from fastreg.services import confirmations, registration
from fastreg.testing import SandboxClient

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "Operator2026"


@dataclass
class OA:
    appid: str
    admin_wxid: str
    email: str
    password: str
    name: str


def make_oa(sandbox: SandboxClient, *, principal_type: str = "enterprise", verified: bool = True, tag: str = "") -> OA:
    name = f"测试公众号{tag}{principal_type}"
    created: dict[str, Any] = sandbox.create_official_account(
        name=name,
        principal_name=f"测试主体{tag}{principal_type}有限公司",
        principal_type=principal_type,
        verified=verified,
        operator_password=PASSWORD,
    )
    return OA(created["appid"], created["admin_wxid"], created["operator_email"], PASSWORD, name)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Page, oa: OA) -> None:
    page.goto("/login")
    page.fill("#f-email", oa.email)
    page.fill("#f-password", oa.password)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/oa$"))


def open_wizard(page: Page, oa: OA, step: str) -> None:
    """Log in and open the wizard, which resumes at ``step`` (the step indicator's text)."""
    login(page, oa)
    page.goto("/oa/fastreg")
    expect(page.locator("#step-indicator li.current")).to_have_text(step)


def fill_account(page: Page, email: str, password: str, confirmation: str) -> None:
    page.fill("#f-email", email)
    page.fill("#f-password", password)
    page.fill("#f-password_confirm", confirmation)


def submit_redirected(page: Page, button: str, action: str) -> None:
    """Click a wizard form's button: its POST to /oa/fastreg/<action> answers with a redirect to the wizard."""
    with page.expect_response(re.compile(rf"/oa/fastreg/{action}$")) as posted:
        page.click(button)
    assert posted.value.status == 303
    expect(page).to_have_url(re.compile(r"/oa/fastreg$"))


def decode_qr(page: Page, selector: str) -> str:
    """Read the QR code as a person's phone would: from the pixels on the screen."""
    png = page.locator(selector).screenshot()
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code found in the picture"
    text: str = results[0].text
    return text


def operator_id(platform: Platform, email: str) -> tuple[int, int]:
    with platform.uow(readonly=True) as uow:
        op = uow.session.execute(select(Operator).where(Operator.email == email)).scalar_one()
        return op.id, op.oa_id


def complete_through_services(platform: Platform, oa: OA, email: str, *, reuse_certification: bool = True) -> str:
    """One whole console registration through the services (set-up for quota tests); returns the MP appid."""
    op_id, oa_id = operator_id(platform, oa.email)
    view = registration.start(platform, op_id)
    scan = registration.new_scan(platform, oa_id, view.id)
    confirmations.answer(platform, scan.id, oa.admin_wxid, confirmations.CONFIRM)
    registration.choose_qualifications(platform, oa_id, view.id, reuse_certification, False)
    registration.submit_account(platform, oa_id, view.id, email, "Passw0rd99", "Passw0rd99", None)
    token = _latest_activation_token(platform, email)
    registration.activate(platform, token)
    admin = registration.bind_admin(platform, oa_id, view.id, oa.admin_wxid)
    confirmations.answer(platform, admin.id, oa.admin_wxid, confirmations.CONFIRM)
    done = registration.get(platform, oa_id, view.id)
    assert done.status == "completed"
    assert done.mp_appid
    return done.mp_appid


def _latest_activation_token(platform: Platform, email: str) -> str:
    from fastreg.services import sandbox as sandbox_service

    mails = sandbox_service.outbox(platform, email)
    links = [link for mail in mails for link in mail["links"] if "/activate/" in link]
    assert links, f"no activation mail for {email}"
    return str(links[-1]).rsplit("/activate/", 1)[1]


def activation_link(sandbox: SandboxClient, email: str) -> str:
    mails = sandbox.mail(email)
    links = [link for mail in mails for link in mail["links"] if "/activate/" in link]
    assert links, f"no activation mail for {email}"
    return str(links[-1])


def to_account_step(platform: Platform, oa: OA, *, reuse_operator: bool = False) -> int:
    """Walk a registration to step 5 (帐号信息) through the services; returns its id."""
    op_id, oa_id = operator_id(platform, oa.email)
    view = registration.start(platform, op_id)
    scan = registration.new_scan(platform, oa_id, view.id)
    confirmations.answer(platform, scan.id, oa.admin_wxid, confirmations.CONFIRM)
    registration.choose_qualifications(platform, oa_id, view.id, True, reuse_operator)
    return view.id


def to_pending(platform: Platform, oa: OA, email: str, *, reuse_operator: bool = False) -> int:
    """Walk a registration to 待完成注册 (pending) through the services."""
    rid = to_account_step(platform, oa, reuse_operator=reuse_operator)
    oa_id = operator_id(platform, oa.email)[1]
    registration.submit_account(platform, oa_id, rid, email, "Passw0rd99", "Passw0rd99", None)
    return rid


def to_admin_step(platform: Platform, oa: OA, email: str, *, reuse_operator: bool = False) -> int:
    """Walk a registration to step 7 (绑定管理员): pending with its email activated."""
    rid = to_pending(platform, oa, email, reuse_operator=reuse_operator)
    registration.activate(platform, _latest_activation_token(platform, email))
    return rid
