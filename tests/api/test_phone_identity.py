"""Production mode knows who is holding the phone: WeChat users enrol through a one-time link (random, stored
hashed, expiring with the clock, single-use), log in on the phone page (rate-limited), and only the logged-in
user a confirmation waits for can answer it, whatever the form says. The polling endpoint of the QR pages gives
the redirect (with its live ticket or code) only to the browser that opened the page. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import Credential, WechatUser
from fastreg.domain import secrets
from fastreg.services import confirmations, wechat_users
from fastreg.testing import LiveServer
from tests.production import (
    PASSWORD,
    Production,
    accounts_for,
    behind_tls,
    create_user,
    csrf_of,
    enrol,
    enrolled_user,
    fastregister_params,
    log_in,
    new_wxid,
    open_consent_page,
    open_fastregister_page,
    post_form,
    production_server,
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def production(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    with production_server(request.param, tmp_path_factory.mktemp("production")) as server:
        yield server


def confirmation_id(url: str) -> str:
    return urlparse(url).path.rsplit("/", 1)[1]


def status_of(production: Production, url: str) -> str:
    return confirmations.describe(production.platform, confirmation_id(url)).status


# ---------------------------------------------------------------- enrolment


def test_enrolment_link_sets_the_password_once_and_logs_in(production: Production) -> None:
    wxid = new_wxid()
    link = create_user(production.platform, wxid)
    token = link.rsplit("/", 1)[1]
    assert link == production.live.base_url + "/m/enrol/" + token and len(token) >= 22  # >= 128 bits
    with production.client() as phone:
        page = phone.get(link)
        assert page.status_code == 200 and wxid in page.text
        weak = post_form(phone, "/m/enrol/" + token, {"password": "short", "password_confirm": "short"})
        assert weak.status_code == 400 and 'id="error-password"' in weak.text  # the link stays usable
        done = enrol(phone, link)
        assert done.status_code == 303 and done.headers["location"] == "/m?notice=enrolled"
        cookie = done.headers["set-cookie"].lower()
        assert cookie.startswith("fastreg_phone_session=")
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/m" in cookie
        assert "secure" not in cookie  # the public URL is http here
        home = phone.get("/m")
        assert home.status_code == 200 and f"已登录：{wxid}" in home.text
    # Single use: the link is spent, for this browser and any other.
    with production.client() as other:
        assert other.get(link).status_code == 400
        token_field = csrf_of(other.get("/m/login").text)  # the spent link's page has no form to take it from
        fields = {"csrf_token": token_field, "password": "Another2026pw", "password_confirm": "Another2026pw"}
        again = other.post(link, data=fields)
        assert again.status_code == 400 and "激活链接无效或已被使用" in again.text
    # Stored hashed: the credential under its SHA-256 only, the password as an argon2 hash.
    with production.platform.uow(readonly=True) as uow:
        assert uow.session.get(Credential, token) is None
        credential = uow.session.get(Credential, secrets.token_hash(token))
        assert credential is not None and credential.kind == "wechat_enrolment" and credential.used_at is not None
        user = uow.session.execute(select(WechatUser).where(WechatUser.wxid == wxid)).scalar_one()
        assert user.password_hash and user.password_hash.startswith("$argon2")
        assert PASSWORD not in user.password_hash and user.enrolled_at is not None
    # The password set is the one that logs in (the second attempt's is not).
    with production.client() as phone:
        assert log_in(phone, wxid, "Another2026pw").status_code == 400
        assert log_in(phone, wxid).status_code == 303


def test_enrolment_link_expires_with_the_clock(production: Production) -> None:
    wxid = new_wxid()
    link = create_user(production.platform, wxid)
    ttl = production.platform.settings.enrolment_ttl_seconds
    production.clock.advance(ttl - 1)
    with production.client() as phone:
        assert phone.get(link).status_code == 200
        production.clock.advance(1)
        expired = phone.get(link)
        assert expired.status_code == 400 and "激活链接已过期" in expired.text
        assert phone.post(link, data={"password": PASSWORD, "password_confirm": PASSWORD}).status_code in (400, 403)
    with production.platform.uow(readonly=True) as uow:
        user = uow.session.execute(select(WechatUser).where(WechatUser.wxid == wxid)).scalar_one()
        assert user.password_hash is None and user.enrolled_at is None


def test_a_new_enrolment_link_replaces_the_password_and_ends_old_sessions(production: Production) -> None:
    wxid, old_phone = enrolled_user(production)
    assert old_phone.get("/m").status_code == 200
    first = wechat_users.new_enrolment_link(production.platform, wxid).enrolment_url
    second = wechat_users.new_enrolment_link(production.platform, wxid).enrolment_url
    with production.client() as phone:
        assert phone.get(first).status_code == 400  # replaced by the second
        assert log_in(phone, wxid).status_code == 303  # the password in place works until a new one is set
    with production.client() as phone:
        assert enrol(phone, second, "Renewed2026pw").status_code == 303
    assert old_phone.get("/m").headers["location"] == "/m/login"  # the old sessions ended
    with production.client() as phone:
        assert log_in(phone, wxid).status_code == 400
        assert log_in(phone, wxid, "Renewed2026pw").status_code == 303


def test_unknown_enrolment_link_and_login_before_enrolment(production: Production) -> None:
    with production.client() as phone:
        assert phone.get("/m/enrol/" + secrets.new_token()).status_code == 400
        wxid = new_wxid()
        create_user(production.platform, wxid)  # not enrolled: no password logs in
        refused = log_in(phone, wxid, PASSWORD)
        assert refused.status_code == 400 and "微信号或密码错误" in refused.text
        assert "fastreg_phone_session" not in refused.headers.get("set-cookie", "")


def test_phone_login_is_rate_limited(production: Production) -> None:
    wxid, _ = enrolled_user(production)
    with production.client() as phone:
        for _ in range(5):
            assert log_in(phone, wxid, "Wrong2026pass").status_code == 400
        locked = log_in(phone, wxid)  # the right password, too late
        assert locked.status_code == 429 and "登录失败次数过多" in locked.text
        production.clock.advance(15 * 60)
        assert log_in(phone, wxid).status_code == 303


def test_phone_login_and_confirmation_need_the_csrf_token(production: Production) -> None:
    wxid, phone = enrolled_user(production)
    with production.client() as fresh:
        forged = fresh.post("/m/login", data={"wxid": wxid, "password": PASSWORD})
        assert forged.status_code == 403 and "fastreg_phone_session" not in forged.headers.get("set-cookie", "")
    found = accounts_for(production, wxid)
    with production.client() as desktop:
        url = open_consent_page(desktop, found)
    no_token = phone.post(httpx.URL(url).path, data={"action": "confirm"})
    assert no_token.status_code == 403
    assert status_of(production, url) == "pending"


# ---------------------------------------------------------------- the attack: a stranger holding the QR link


def answered(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    """Answer a confirmation page's form: its POST redirects (post/redirect/get) to the page showing the outcome."""
    posted = post_form(client, path, fields)
    assert posted.status_code == 303
    return client.get(posted.headers["location"])


def test_a_stranger_holding_the_qr_link_cannot_approve(production: Production) -> None:
    admin, admin_phone = enrolled_user(production)
    _, stranger_phone = enrolled_user(production, "wxid_stranger_")
    found = accounts_for(production, admin)
    with production.client() as desktop:  # the attacker's own component opens the consent page for the OA
        url = open_consent_page(desktop, found)
    path = httpx.URL(url).path

    # No session: a login form, nothing about who may answer; a posted wxid is not an identity.
    with production.client() as anonymous:
        page = anonymous.get(path)
        assert page.status_code == 200 and 'id="phone-login-form"' in page.text
        assert admin not in page.text and 'id="confirm-button"' not in page.text
        claimed = answered(anonymous, path, {"wxid": admin, "action": "confirm"})
        assert claimed.status_code == 401 and admin not in claimed.text
    assert status_of(production, url) == "pending"

    # Logged in as someone else: only "not yours", and a posted wxid changes nothing.
    page = stranger_phone.get(path)
    assert "你不是该帐号的管理员，无权确认" in page.text and admin not in page.text
    assert 'id="confirm-button"' not in page.text
    english = stranger_phone.get(path, params={"lang": "en"})
    assert "You are not allowed to answer this confirmation" in english.text and admin not in english.text
    claimed = answered(stranger_phone, path, {"wxid": admin, "action": "confirm"})
    assert claimed.status_code == 403 and admin not in claimed.text
    assert status_of(production, url) == "pending"

    # The rightful admin, logged in, sees what is asked and approves it.
    page = admin_phone.get(path)
    assert 'id="confirm-button"' in page.text and found.oa_appid in page.text
    done = answered(admin_phone, path, {"action": "confirm"})
    assert done.status_code == 200 and "授权成功" in done.text
    assert status_of(production, url) == "confirmed"


def test_login_from_the_confirmation_page_comes_back_to_it(production: Production) -> None:
    admin, _ = enrolled_user(production)
    found = accounts_for(production, admin)
    with production.client() as desktop:
        url = open_fastregister_page(desktop, found)
    path = httpx.URL(url).path
    with production.client() as phone:
        answer = log_in(phone, admin, next_path=path)
        assert answer.status_code == 303 and answer.headers["location"] == path
        cancelled = answered(phone, path, {"action": "cancel"})
        assert cancelled.status_code == 200
    assert status_of(production, url) == "cancelled"


# ---------------------------------------------------------------- scanstatus: the redirect for the opener only


def test_scanstatus_gives_the_ticket_only_to_the_browser_that_opened_the_page(production: Production) -> None:
    admin, admin_phone = enrolled_user(production)
    found = accounts_for(production, admin)
    with production.client() as opener, production.client() as onlooker:
        url = open_fastregister_page(opener, found)
        assert answered(admin_phone, httpx.URL(url).path, {"action": "confirm"}).status_code == 200
        params = {"id": confirmation_id(url)}
        seen = onlooker.get("/cgi-bin/scanstatus", params=params)
        assert seen.json() == {"errcode": 0, "errmsg": "ok", "status": "confirmed", "redirect_url": None}
        assert "ticket" not in seen.text and seen.headers["cache-control"] == "no-store"
        forged = onlooker.get(
            "/cgi-bin/scanstatus", params=params, headers={"Cookie": "fastreg_scan_opener=" + "x" * 32}
        )
        assert forged.json()["redirect_url"] is None
        own = opener.get("/cgi-bin/scanstatus", params=params)
        assert own.json()["redirect_url"].startswith(found.redirect_uri + "?ticket=")
        assert own.headers["cache-control"] == "no-store"
        refused = onlooker.get("/cgi-bin/scanstatus", params={"id": "nope"})
        assert refused.json()["errcode"] == 40097 and refused.headers["cache-control"] == "no-store"


# ---------------------------------------------------------------- cookies behind TLS


@pytest.fixture(scope="module")
def https_production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    data_dir = tmp_path_factory.mktemp("https")
    with production_server("sqlite", data_dir, public_url="https://fastreg.example.com") as server:
        yield server


def test_cookies_are_secure_when_the_public_url_is_https(https_production: Production) -> None:
    wxid = new_wxid()
    link = create_user(https_production.platform, wxid)
    assert link.startswith("https://fastreg.example.com/m/enrol/")
    found = accounts_for(https_production, new_wxid())
    with behind_tls(https_production.client()) as phone:
        done = enrol(phone, link.replace("https://fastreg.example.com", https_production.live.base_url))
        assert done.status_code == 303
        assert "secure" in done.headers["set-cookie"].lower()
        page = phone.get("/cgi-bin/fastregisterauth", params=fastregister_params(found))
        opener_cookie = page.headers["set-cookie"].lower()
        assert opener_cookie.startswith("fastreg_scan_opener=") and "secure" in opener_cookie
        assert "httponly" in opener_cookie


# ---------------------------------------------------------------- the sandbox has no phone logins


@pytest.mark.parametrize("path", ["/m", "/m/login", "/m/enrol/" + "a" * 32])
def test_the_sandbox_has_no_phone_logins(fastreg_server: LiveServer, path: str) -> None:
    assert httpx.get(fastreg_server.base_url + path).status_code == 404
