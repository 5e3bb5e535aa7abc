"""Helpers for tests of production mode (``FASTREG_MODE=production``), where there is no sandbox API: a live
server on SQLite or PostgreSQL with a clock the test moves, accounts set up through the services (as an
operator's tooling would), and WeChat users who enrol and log in on the phone pages over HTTP."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx

from fastreg.domain.clock import FixedClock
from fastreg.platform import Platform
from fastreg.services import accounts, wechat_users
from fastreg.settings import Settings
from fastreg.testing import LiveServer, run_live_server, scan_url_from_page
from tests.pg import temporary_database

PASSWORD = "Phone2026pass"


@dataclass
class Production:
    live: LiveServer
    clock: FixedClock

    @property
    def platform(self) -> Platform:
        platform: Platform = self.live.platform
        return platform

    def client(self) -> httpx.Client:
        """A browser of its own: its own cookie jar."""
        return httpx.Client(base_url=self.live.base_url, timeout=30)


@contextmanager
def production_server(backend: str, data_dir: Path, *, public_url: str | None = None) -> Iterator[Production]:
    """A live fastreg in production mode on ``backend`` ("sqlite" or "postgres")."""
    clock = FixedClock()
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{data_dir / 'fastreg.db'}"
        else:
            url = stack.enter_context(temporary_database("fastreg_production"))
        settings = Settings(database_url=url, data_dir=data_dir, mode="production")
        live, stop = run_live_server(settings, clock=clock, public_url=public_url)
        stack.callback(stop)
        yield Production(live, clock)


def new_wxid(prefix: str = "wxid_") -> str:
    return prefix + secrets.token_hex(6)


def create_user(platform: Platform, wxid: str) -> str:
    """What ``fastreg user create --wxid W`` does; the enrolment link."""
    return wechat_users.create(platform, wxid).enrolment_url


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return unescape(found.group(1))


def post_form(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    """Submit the form of the page at ``path`` as a browser would: GET it (CSRF cookie and token), then POST."""
    page = client.get(path)
    return client.post(path, data={"csrf_token": csrf_of(page.text), **fields})


def behind_tls(client: httpx.Client) -> httpx.Client:
    """Send ``Secure`` cookies over the test's plain HTTP, as a browser does to the https address of a
    TLS-terminating proxy in front of the server (the cookie jar itself keeps them to https)."""

    def send_secure_cookies(request: httpx.Request) -> None:
        if "cookie" not in request.headers and client.cookies.jar:
            request.headers["cookie"] = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)

    client.event_hooks["request"].append(send_secure_cookies)
    return client


def enrol(client: httpx.Client, link: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, httpx.URL(link).path, {"password": password, "password_confirm": password})


def log_in(client: httpx.Client, wxid: str, password: str = PASSWORD, next_path: str = "/m") -> httpx.Response:
    page = client.get("/m/login", params={"next": next_path})
    fields = {"csrf_token": csrf_of(page.text), "wxid": wxid, "password": password, "next": next_path}
    return client.post("/m/login", data=fields)


def enrolled_user(production: Production, prefix: str = "wxid_") -> tuple[str, httpx.Client]:
    """A new WeChat user who has enrolled: the wxid and a browser logged in as them."""
    wxid = new_wxid(prefix)
    client = production.client()
    assert enrol(client, create_user(production.platform, wxid)).status_code == 303
    return wxid, client


@dataclass
class Accounts:
    oa_appid: str
    admin_wxid: str
    component_appid: str
    component_token: str
    redirect_uri: str


def accounts_for(production: Production, admin_wxid: str, redirect_domain: str = "tp.example.com") -> Accounts:
    """An OA whose admin is ``admin_wxid`` and a component (its access token taken over the Open API)."""
    platform = production.platform
    tag = secrets.token_hex(3)
    oa = accounts.create_official_account(
        platform,
        name=f"城市晚报{tag}",
        principal_name=f"城市晚报社{tag}",
        principal_type="enterprise",
        admin_wxid=admin_wxid,
    )
    component = accounts.create_component(platform, name=f"某第三方平台{tag}", redirect_domain=redirect_domain)
    with production.client() as api:
        answer = api.post(
            "/cgi-bin/component/api_component_token",
            json={
                "component_appid": component.component_appid,
                "component_appsecret": component.component_appsecret,
                "component_verify_ticket": component.component_verify_ticket,
            },
        ).json()
    token = str(answer["component_access_token"])
    scheme = "http" if redirect_domain == "127.0.0.1" else "https"
    return Accounts(oa.appid, admin_wxid, component.component_appid, token, f"{scheme}://{redirect_domain}/cb")


def consent_page_params(client: httpx.Client, found: Accounts) -> dict[str, str]:
    """The componentloginpage query for the OA, with a fresh pre_auth_code of the component."""
    code = client.post(
        "/cgi-bin/component/api_create_preauthcode",
        params={"component_access_token": found.component_token},
        json={"component_appid": found.component_appid},
    ).json()["pre_auth_code"]
    return {
        "component_appid": found.component_appid,
        "pre_auth_code": code,
        "redirect_uri": found.redirect_uri,
        "auth_type": "3",
        "biz_appid": found.oa_appid,
    }


def open_consent_page(client: httpx.Client, found: Accounts) -> str:
    """The component sends a browser to componentloginpage for the OA; the confirmation URL of its QR code."""
    page = client.get("/cgi-bin/componentloginpage", params=consent_page_params(client, found))
    assert page.status_code == 200
    return scan_url_from_page(page.text)


def fastregister_params(found: Accounts) -> dict[str, str]:
    """The fastregisterauth query of the component for the OA."""
    return {
        "appid": found.oa_appid,
        "component_appid": found.component_appid,
        "copy_wx_verify": "1",
        "redirect_uri": found.redirect_uri,
    }


def open_fastregister_page(client: httpx.Client, found: Accounts) -> str:
    page = client.get("/cgi-bin/fastregisterauth", params=fastregister_params(found))
    assert page.status_code == 200
    return scan_url_from_page(page.text)
