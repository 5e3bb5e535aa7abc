"""GET pages and polls only read: no write transaction is opened (nor a row written) while a browser-free client
opens every console page of a registration in progress, polls the wizard, opens the admin's phone page and reads
the sandbox; expiry is computed from the stored times, and the worker's sweep closes what expired."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from fastreg.testing import LiveServer, SandboxClient

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b|\bFOR UPDATE\b", re.IGNORECASE)


@contextmanager
def counting_writes(live: LiveServer) -> Iterator[list[str]]:
    """Every write transaction begun and every writing statement run on the server's engine meanwhile."""
    engine = live.platform.engine
    seen: list[str] = []

    def on_begin(conn: Any) -> None:
        if not conn.get_execution_options().get("readonly"):
            seen.append("BEGIN (write)")

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if WRITE.search(statement):
            seen.append(statement.split("\n")[0][:120])

    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        yield seen
    finally:
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "before_cursor_execute", on_statement)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_console_pages_polls_and_sandbox_reads_write_nothing(live: LiveServer, sandbox: SandboxClient) -> None:
    oa = sandbox.create_official_account(
        name="只读号", principal_name="只读公司", principal_type="enterprise", operator_password="Quick2026pass"
    )
    with httpx.Client(base_url=live.base_url, timeout=30, follow_redirects=True) as browser:
        form = {"email": oa["operator_email"], "password": "Quick2026pass", "csrf_token": "", "next": ""}
        form["csrf_token"] = _csrf(browser.get("/login").text)
        assert browser.post("/login", data=form).status_code == 200
        protocol = browser.get("/oa/fastreg/protocol")
        started = browser.post("/oa/fastreg/start", data={"csrf_token": _csrf(protocol.text), "agree": "1"})
        assert started.status_code == 200
        state = sandbox.official_account(oa["appid"])["pending_registration"] or {}
        wizard = browser.get("/oa/fastreg").text
        registration_id = str(state.get("id") or re.search(r"registration_id=(\d+)", wizard).group(1))  # type: ignore[union-attr]
        phone_links = [httpx.URL(c["url"]).path for c in sandbox.confirmations(oa["admin_wxid"])]
        assert phone_links  # the admin's scan waits on the phone

        pages = ["/", "/oa", "/oa/miniprograms", "/oa/miniprograms/add", "/oa/miniprograms/link", "/oa/fastreg"]
        polls = [f"/oa/fastreg/status?registration_id={registration_id}"] * 3

        def read_everything(phone_links: list[str]) -> None:
            """Every page and poll of the registration where it stands, counting the writes they make."""
            with counting_writes(live) as writes:
                for path in [*pages, *polls, *phone_links, *(link + "/result" for link in phone_links)]:
                    assert browser.get(path).status_code < 500, path
                with httpx.Client(base_url=live.base_url, timeout=30) as phone:
                    for link in phone_links:
                        assert phone.get(link).status_code < 500
                sandbox.official_account(oa["appid"])
                sandbox.get_clock()
                sandbox.audit(oa["appid"])
                sandbox.confirmations(oa["admin_wxid"])
            assert writes == [], browser.get(polls[0]).json()

        def post(action: str, **fields: str) -> None:
            csrf = _csrf(browser.get("/oa/fastreg").text)
            form = {"csrf_token": csrf, "registration_id": registration_id, **fields}
            assert browser.post(f"/oa/fastreg/{action}", data=form).status_code == 200

        read_everything(phone_links)  # step 3: the admin's scan
        sandbox.scan(sandbox.confirmations(oa["admin_wxid"])[0]["url"], oa["admin_wxid"], "confirm")
        read_everything([])  # step 4: the qualifications
        post("qualifications", reuse_certification="1", reuse_operator="1")
        read_everything([])  # step 5: the account
        post("account", email="readonly-mp@example.com", password="Secret2026pw", password_confirm="Secret2026pw")
        (mail,) = sandbox.mail("readonly-mp@example.com")  # sent by the worker once the step committed
        read_everything([])  # step 6: the activation
        activation = next(link for link in mail["links"] if "/activate/" in link)
        assert browser.get(httpx.URL(activation).path).status_code == 200  # the mail's link: it activates
        read_everything([])  # step 7: binding the admin
        post("admin", admin_choice="wxid", admin_wxid=oa["admin_wxid"])
        invitations = [httpx.URL(c["url"]).path for c in sandbox.confirmations(oa["admin_wxid"])]
        assert invitations
        read_everything(invitations)  # step 7: the admin's invitation waits on the phone

        # Past its time to live the registration is closed by the worker, not by a page: the pages only read.
        sandbox.set_clock(advance_seconds=8 * 86400)
        deadline = time.monotonic() + 10
        while not any(e["kind"] == "expired" for e in sandbox.audit(oa["appid"])):
            assert time.monotonic() < deadline, "the worker did not sweep the expired registration"
            time.sleep(0.05)
        form["csrf_token"] = _csrf(browser.get("/login").text)  # the web session expired meanwhile too
        assert browser.post("/login", data=form).status_code == 200
        with counting_writes(live) as writes:
            assert browser.get(polls[0]).json()["state"] == "gone"
            assert "复用公众号资质快速注册小程序" in browser.get("/oa/fastreg").text  # step 1 again
        assert writes == []
