"""Every console page checked with axe-core (the npm package, installed from tests/console/package-lock.json
into tests/console/node_modules): no ``serious`` or ``critical`` violation. Each page's findings, every impact,
are written to tests/artifacts/axe-report.json for a person to read."""

from __future__ import annotations

import json
import shutil
import subprocess
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

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


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

    def save(self) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        report = json.dumps(self.found, ensure_ascii=False, indent=1)
        (ARTIFACTS / "axe-report.json").write_text(report, encoding="utf-8")


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
