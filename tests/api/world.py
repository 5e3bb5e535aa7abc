"""Test helpers that drive fastreg only through its public surfaces: the sandbox API, the Open API over HTTP
and the HTML pages (the QR code is decoded from the page's PNG)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from fastreg.testing import LiveServer, SandboxClient

REDIRECT_DOMAIN = "thirdparty.example.com"
REDIRECT_URI = f"https://{REDIRECT_DOMAIN}/fastreg/callback"


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a PNG, read with zxing-cpp."""
    import zxingcpp
    from PIL import Image

    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert results, "no QR code found in the image"
    return str(results[0].text)


def _scan_qr_tag(html: str) -> str:
    tag = re.search(r"<img[^>]*id=\"scan-qr\"[^>]*>", html)
    assert tag, "no img#scan-qr on the page"
    return tag.group(0)


def qr_url(html: str) -> str:
    """The ``data-confirmation-url`` of the page's ``img#scan-qr`` (what its QR code encodes)."""
    url = re.search(r'data-confirmation-url="([^"]+)"', _scan_qr_tag(html))
    assert url
    return unescape(url.group(1))


def qr_image(html: str, browser: httpx.Client) -> tuple[bytes, str]:
    """The PNG of ``img#scan-qr``, loaded from its ``src`` as a browser loads it, and its
    ``data-confirmation-url``."""
    src = re.search(r'src="([^"]+)"', _scan_qr_tag(html))
    assert src
    image = browser.get(unescape(src.group(1)))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png", image.text[:200]
    assert image.headers["cache-control"] == "no-store"
    return image.content, qr_url(html)


def wire_answer(response: httpx.Response) -> Any:
    """The JSON answer, with an error's ``errmsg`` checked to end in `` rid: `` and the response's X-Request-Id
    (as WeChat writes its errors) and that suffix removed, so that callers compare WeChat's wire text."""
    answer = response.json()
    if isinstance(answer, dict) and answer.get("errcode"):
        suffix = f" rid: {response.headers['x-request-id']}"
        assert str(answer["errmsg"]).endswith(suffix), (answer, suffix)
        answer["errmsg"] = answer["errmsg"].removesuffix(suffix)
    elif isinstance(answer, dict) and "errcode" in answer:
        assert " rid: " not in str(answer.get("errmsg")), answer  # success keeps "ok" (or "")
    return answer


def query_param(url: str, name: str) -> str:
    values = parse_qs(urlparse(url).query).get(name)
    assert values, f"{name} missing in {url}"
    return values[0]


@dataclass
class Component:
    appid: str
    secret: str
    token: str
    encoding_aes_key: str
    verify_ticket: str
    access_token: str = ""


@dataclass
class OA:
    appid: str
    secret: str
    admin_wxid: str
    principal_name: str


class World:
    """OAs, components and authorizations built the way a third-party developer would."""

    def __init__(self, live: LiveServer, sandbox: SandboxClient, api: httpx.Client) -> None:
        self.live = live
        self.sandbox = sandbox
        self.api = api
        self._n = 0

    # ------------------------------------------------------------ plain HTTP

    def get(self, path: str, **params: Any) -> Any:
        response = self.api.get(path, params=params)
        assert response.status_code == 200, response.text
        return wire_answer(response)

    def post(self, path: str, body: Any = None, *, raw: bytes | None = None, **params: Any) -> Any:
        content = raw if raw is not None else (b"" if body is None else httpx_json(body))
        # As WeChat clients do: JSON without a Content-Type.
        response = self.api.post(path, params=params, content=content)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        return wire_answer(response)

    # ------------------------------------------------------------ accounts

    def oa(self, **fields: Any) -> OA:
        self._n += 1
        fields.setdefault("name", f"测试公众号{self._n}")
        fields.setdefault("principal_name", f"测试企业{self._n}有限公司")
        fields.setdefault("principal_type", "enterprise")
        data = self.sandbox.create_official_account(**fields)
        return OA(data["appid"], data["secret"], data["admin_wxid"], fields["principal_name"])

    def component(self, *, token: bool = True, **fields: Any) -> Component:
        self._n += 1
        fields.setdefault("name", f"第三方平台{self._n}")
        fields.setdefault("redirect_domain", REDIRECT_DOMAIN)
        data = self.sandbox.create_component(**fields)
        component = Component(
            data["component_appid"],
            data["component_appsecret"],
            data["token"],
            data["encoding_aes_key"],
            data["component_verify_ticket"],
        )
        if token:
            component.access_token = self.component_token(component)
        return component

    def component_token(self, component: Component) -> str:
        answer = self.post(
            "/cgi-bin/component/api_component_token",
            {
                "component_appid": component.appid,
                "component_appsecret": component.secret,
                "component_verify_ticket": component.verify_ticket,
            },
        )
        assert answer["errcode"] == 0, answer
        return str(answer["component_access_token"])

    def query_auth(self, component: Component, code: str) -> dict[str, Any]:
        answer = self.post(
            "/cgi-bin/component/api_query_auth",
            {"component_appid": component.appid, "authorization_code": code},
            component_access_token=component.access_token,
        )
        assert answer["errcode"] == 0, answer
        info: dict[str, Any] = answer["authorization_info"]
        return info

    def authorize(self, component: Component, oa: OA) -> str:
        """The OA authorizes the component (sandbox shortcut of the consent page); the authorizer token."""
        code = self.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
        return str(self.query_auth(component, code)["authorizer_access_token"])

    # ------------------------------------------------------------ fast registration

    def auth_page(self, component: Component, oa: OA, copy_wx_verify: int = 1, redirect_uri: str = REDIRECT_URI) -> str:
        response = self.api.get(
            "/cgi-bin/fastregisterauth",
            params={
                "appid": oa.appid,
                "component_appid": component.appid,
                "copy_wx_verify": copy_wx_verify,
                "redirect_uri": redirect_uri,
            },
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        return response.text

    def ticket(self, component: Component, oa: OA, copy_wx_verify: int = 1) -> str:
        """The OA admin scans the fastregisterauth page's QR code and confirms; the ticket of the redirect."""
        png, url = qr_image(self.auth_page(component, oa, copy_wx_verify), self.api)
        assert decode_qr(png) == url
        answer = self.sandbox.scan(url, oa.admin_wxid, "confirm")
        assert answer["status"] == "confirmed"
        assert answer["redirect_url"].startswith(REDIRECT_URI + "?ticket=")
        return query_param(answer["redirect_url"], "ticket")

    def fastregister(self, token: str | None, ticket: Any) -> dict[str, Any]:
        params = {"access_token": token} if token is not None else {}
        answer: dict[str, Any] = self.post("/cgi-bin/account/fastregister", {"ticket": ticket}, **params)
        return answer

    def oa_state(self, oa: OA) -> dict[str, Any]:
        state: dict[str, Any] = self.sandbox.official_account(oa.appid)
        return state


def httpx_json(body: Any) -> bytes:
    import json

    return json.dumps(body, ensure_ascii=False).encode()


def operations(live: LiveServer, prefix: str) -> list[tuple[str, str]]:
    """(method, path template) of every documented route under ``prefix``, from the app's OpenAPI document."""
    paths: dict[str, dict[str, Any]] = live.app.openapi()["paths"]
    return sorted((method.upper(), path) for path, item in paths.items() if path.startswith(prefix) for method in item)
