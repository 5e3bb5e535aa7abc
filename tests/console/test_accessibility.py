"""Every console page checked with axe-core (the npm package, installed from tests/console/package-lock.json
into tests/console/node_modules): no ``serious`` or ``critical`` violation. Each page's findings, every impact,
are written to tests/artifacts/axe-report.json for a person to read."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from fastreg.testing import LiveServer, SandboxClient
from tests.console.helpers import (
    ARTIFACTS,
    activation_link,
    complete_through_services,
    decode_qr,
    fill_account,
    login,
    make_oa,
)
from tests.production import (
    PASSWORD,
    Production,
    accounts_for,
    create_user,
    new_wxid,
    open_consent_page,
    production_server,
)

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production_server("sqlite", tmp_path_factory.mktemp("production-axe")) as server:
        yield server


@pytest.fixture(scope="module")
def axe_script() -> Path:
    """axe.min.js, installed with ``npm ci`` from the committed lock file when it is not there yet."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("no npm to install axe-core (make test installs it)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True)
    return AXE


class Audit:
    """Runs axe on pages and keeps what it found, page by page."""

    def __init__(self, script: Path) -> None:
        self.script = script
        self.found: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Page, name: str) -> None:
        page.wait_for_load_state("load")
        page.add_script_tag(path=str(self.script))
        results: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        self.found[name] = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "targets": [" ".join(map(str, node["target"])) for node in v["nodes"]][:5],
            }
            for v in results["violations"]
        ]

    def blocking(self) -> dict[str, list[str]]:
        return {
            name: [f"{v['id']} ({v['impact']}): {v['help']} at {v['targets']}" for v in found]
            for name, found in self.found.items()
            if any(v["impact"] in BLOCKING for v in found)
        }

    def save(self, name: str = "axe-report.json") -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        report = json.dumps(self.found, ensure_ascii=False, indent=1)
        (ARTIFACTS / name).write_text(report, encoding="utf-8")


def test_every_console_page_passes_axe(
    browser: Browser, page: Page, phone: Page, server: LiveServer, sandbox: SandboxClient, axe_script: Path
) -> None:
    audit = Audit(axe_script)
    oa = make_oa(sandbox, tag="无障碍")
    other_mp = complete_through_services(server.platform, make_oa(sandbox, tag="别家"), "a11y-other@example.com")

    page.goto("/login")
    audit.check(page, "login")
    page.fill("#f-email", oa.email)
    page.fill("#f-password", "wrong-password-1")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#page-error")).to_be_visible()
    audit.check(page, "login (refused)")
    login(page, oa)
    audit.check(page, "oa home")
    page.goto("/oa/miniprograms")
    audit.check(page, "miniprograms (empty)")
    page.goto("/oa/miniprograms/add")
    audit.check(page, "add chooser")
    page.goto("/oa/miniprograms/link")
    audit.check(page, "link form")
    page.fill("#f-mp_appid", "not-an-appid")
    page.click("form[action='/oa/miniprograms/link'] button[type=submit]")
    audit.check(page, "link form (refused)")
    page.fill("#f-mp_appid", other_mp)
    page.click("form[action='/oa/miniprograms/link'] button[type=submit]")
    expect(page.locator("#link-qr")).to_be_visible()
    audit.check(page, "link waiting")
    phone.goto(decode_qr(page, "#link-qr") + "?wxid=" + oa.admin_wxid)
    audit.check(phone, "phone: link confirmation")

    page.goto("/oa/fastreg")
    audit.check(page, "wizard 1 entry")
    page.goto("/oa/fastreg/protocol")
    audit.check(page, "wizard 2 protocol")
    page.check("#agree")
    page.click("#protocol-next")
    audit.check(page, "wizard 3 scan")
    url = decode_qr(page, "#scan-qr")
    phone.goto(url)
    audit.check(phone, "phone: asks the wxid (sandbox)")
    phone.goto(url + "?wxid=" + oa.admin_wxid)
    audit.check(phone, "phone: scan confirmation")
    phone.click("#confirm-button")
    expect(phone.locator("#confirmation-result")).to_be_visible()
    audit.check(phone, "phone: result")
    phone.goto(url + "?wxid=" + oa.admin_wxid)
    audit.check(phone, "phone: answered")
    phone.goto("/m/confirm/no-such-confirmation")
    audit.check(phone, "phone: unknown confirmation")

    expect(page.locator("#reuse-certification")).to_be_visible(timeout=10_000)
    audit.check(page, "wizard 4 qualifications")
    page.check("#reuse-operator")
    page.click("#qualifications-next")
    audit.check(page, "wizard 5 account")
    fill_account(page, "a11y-mp", "short", "other")
    page.click("#account-submit")
    expect(page.locator("#error-email")).to_be_visible()
    audit.check(page, "wizard 5 account (errors)")
    fill_account(page, "a11y-mp@example.com", "Access2026x", "Access2026x")
    page.click("#account-submit")
    expect(page.locator("#activation-email")).to_be_visible()
    audit.check(page, "wizard 6 activation")
    link = activation_link(sandbox, "a11y-mp@example.com")
    page.goto(link)
    expect(page.locator("#admin-form")).to_be_visible()
    audit.check(page, "wizard 7 admin")
    page.click("#admin-submit")
    admin_url = decode_qr(page, "#admin-qr")
    audit.check(page, "wizard 7 admin QR")
    phone.goto(admin_url + "?wxid=" + oa.admin_wxid)
    audit.check(phone, "phone: admin invitation")
    phone.click("#confirm-button")
    expect(page.locator("#new-appid")).to_be_visible(timeout=10_000)
    audit.check(page, "wizard done")
    phone.goto(link)
    audit.check(phone, "activation link (used)")
    page.goto("/oa/miniprograms")
    audit.check(page, "miniprograms (linked, history)")
    page.goto("/oa/miniprograms?lang=en")
    audit.check(page, "miniprograms (English)")
    page.goto("/no-such-page")
    audit.check(page, "404")

    mp = browser.new_context(base_url=server.base_url, locale="zh-CN").new_page()
    mp.goto("/mp/login")
    audit.check(mp, "mp login")
    mp.fill("#f-email", "a11y-mp@example.com")
    mp.fill("#f-password", "Access2026x")
    mp.click("#login-form button[type=submit]")
    expect(mp.locator("#mp-certification")).to_be_visible()
    audit.check(mp, "mp home")
    mp.context.close()

    audit.save()
    assert audit.blocking() == {}


def test_the_production_phone_pages_pass_axe(browser: Browser, production: Production, axe_script: Path) -> None:
    """The phone pages only production has: enrolment, phone login and home, and a confirmation seen by
    someone it is not for and by someone logged out (the admin never enrols here)."""
    audit = Audit(axe_script)
    admin, stranger = new_wxid("wxid_admin_"), new_wxid("wxid_other_")
    stranger_link = create_user(production.platform, stranger)
    context = browser.new_context(
        base_url=production.live.base_url, viewport={"width": 375, "height": 740}, is_mobile=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    phone = context.new_page()
    phone.goto(stranger_link)
    audit.check(phone, "phone: enrol")
    phone.fill("#f-password", "short")
    phone.fill("#f-password_confirm", "short")
    phone.click("#enrol-submit")
    expect(phone.locator("#error-password")).to_be_visible()
    audit.check(phone, "phone: enrol (refused)")
    phone.fill("#f-password", PASSWORD)
    phone.fill("#f-password_confirm", PASSWORD)
    phone.click("#enrol-submit")
    expect(phone.locator("#phone-home")).to_be_visible()
    audit.check(phone, "phone: home")

    with production.client() as desktop:
        url = open_consent_page(desktop, accounts_for(production, admin))
    phone.goto(url)
    audit.check(phone, "phone: confirmation (not yours)")
    phone.click("#logout-button")
    expect(phone.locator("#phone-login-form")).to_be_visible()
    audit.check(phone, "phone: confirmation (logged out)")
    phone.goto("/m/login")
    audit.check(phone, "phone: login")
    phone.fill("#f-wxid", stranger)
    phone.fill("#f-password", "Wrong2026pass")
    phone.click("#phone-login-submit")
    expect(phone.locator("#phone-login-form")).to_be_visible()
    audit.check(phone, "phone: login (refused)")
    context.close()
    audit.save("axe-report-production.json")
    assert audit.blocking() == {}
