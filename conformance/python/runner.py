"""Conformance runner for wechatpy (unmodified): what a third-party platform written for WeChat does, against
the fastreg at ``FASTREG_URL`` (sandbox key ``FASTREG_SANDBOX_KEY``), only its base URLs changed.

Prints one JSON line with the SDK and its version, then one JSON line per call: ``{"call", "ok", "detail"}``
(see ``conformance/README.md``). Each check is written to what fidelity.md says WeChat does."""

from __future__ import annotations

import http.server
import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from html import unescape
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from wechatpy.component import WeChatComponent
from wechatpy.exceptions import WeChatClientException

from fastreg.testing import SandboxClient

BASE = os.environ["FASTREG_URL"].rstrip("/")
REDIRECT = "https://tp.example.com/wechat/redirect"
RID = re.compile(r" rid: \S+$")
# fidelity.md §2 row 10: the keys of a wxamplinkget item (WxJava reads the old name func_info as well).
LINK_ITEM_KEYS = {
    "status",
    "username",
    "appid",
    "source",
    "nickname",
    "selected",
    "nearby_display_status",
    "released",
    "headimg_url",
    "func_infos",
    "func_info",
    "copy_verify_status",
    "email",
}
# fidelity.md §2 row 5.
BASIC_INFO_KEYS = {
    "appid",
    "account_type",
    "principal_type",
    "principal_name",
    "credential",
    "realname_status",
    "wx_verify_info",
    "signature_info",
    "head_image_info",
    "nickname_info",
    "registered_country",
    "nickname",
    "customer_type",
}


def emit(**fields: Any) -> None:
    print(json.dumps(fields, ensure_ascii=False), flush=True)


class Check(Exception):
    """A check that did not hold: its message is the row's detail."""


def expect(condition: bool, detail: str) -> None:
    if not condition:
        raise Check(detail)


def call(name: str, step: Callable[[], str | None]) -> bool:
    try:
        detail = step() or ""
    except Check as failed:
        emit(call=name, ok=False, detail=str(failed))
        return False
    except Exception as error:  # the SDK raised something else: the row is red with what it said
        emit(call=name, ok=False, detail=f"{type(error).__name__}: {error}"[:500])
        traceback.print_exc(file=sys.stderr)
        return False
    emit(call=name, ok=True, detail=detail)
    return True


class Callback:
    """The component's callback URL: every push goes to wechatpy's own handler (``parse_message``), which
    decrypts it and, for a component_verify_ticket, stores the ticket in the component's session."""

    def __init__(self, parse_message: Callable[[bytes, str, str, str], Any]) -> None:
        self.errors: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                query = dict(parse_qsl(urlsplit(self.path).query))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    parse_message(
                        body, query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
                    )
                except Exception as error:
                    owner.errors.append(f"{type(error).__name__}: {error}")
                self.send_response(200)
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wechat/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def confirmation_url(html: str) -> str:
    tag = re.search(r'<img[^>]*id="scan-qr"[^>]*>', html)
    found = re.search(r'data-confirmation-url="([^"]+)"', tag.group(0)) if tag else None
    if not found:
        raise Check("the page has no img#scan-qr with a data-confirmation-url")
    return unescape(found.group(1))


def query_param(url: str, name: str) -> str:
    values = parse_qs(urlsplit(url).query).get(name)
    if not values:
        raise Check(f"no {name} in {url}")
    return values[0]


def main() -> int:
    emit(sdk="wechatpy", version=version("wechatpy"), language="Python")
    sandbox = SandboxClient(BASE, os.environ["FASTREG_SANDBOX_KEY"])
    browser = httpx.Client(timeout=30)
    suffix = str(time.time_ns())[-8:]
    oa = sandbox.create_official_account(
        name=f"wechatpy 公众号 {suffix}", principal_name=f"wechatpy 科技 {suffix} 有限公司", principal_type="enterprise"
    )
    state: dict[str, Any] = {}

    # The component, with wechatpy's callback server as its callback URL.
    component: WeChatComponent
    holder: dict[str, WeChatComponent] = {}

    def make_component(appid: str, secret: str, token: str, aes_key: str) -> WeChatComponent:
        made = WeChatComponent(appid, secret, token, aes_key)
        made.API_BASE_URL = BASE + "/cgi-bin"
        made.PRE_AUTH_URL = BASE + "/cgi-bin/componentloginpage"
        return made

    # The callback exists before the component (its URL goes into the component): pushes reach wechatpy's
    # parse_message once the component is made.
    callback = Callback(lambda *push: holder["component"].parse_message(*push))
    created = sandbox.create_component(
        name=f"wechatpy 平台 {suffix}", redirect_domain="tp.example.com", callback_url=callback.url
    )
    component = make_component(
        created["component_appid"], created["component_appsecret"], created["token"], created["encoding_aes_key"]
    )
    holder["component"] = component

    def push_verify_ticket() -> str:
        fresh = sandbox.issue_verify_ticket(created["component_appid"])
        deadline = time.monotonic() + 10
        while component.component_verify_ticket != fresh and time.monotonic() < deadline:
            time.sleep(0.05)
        if component.component_verify_ticket != fresh:
            # The next rows measure their own calls: give wechatpy the ticket the sandbox issued.
            component.session.set("component_verify_ticket", fresh)
            raise Check(f"parse_message did not store the pushed ticket; handler errors: {callback.errors[-3:]}")
        return "parse_message decrypted the push and cached the ticket"

    def component_token() -> str:
        answer = component.fetch_access_token()
        expect(bool(answer.get("component_access_token")), f"no component_access_token in {answer}")
        expect(answer.get("expires_in") == 7200, f"expires_in {answer.get('expires_in')}")
        return "expires_in 7200"

    def older_ticket_token() -> str:
        # fidelity row 3: a ticket issued within 12 h still works after a newer one (an SDK that missed a push).
        latest = component.component_verify_ticket
        component.session.set("component_verify_ticket", created["component_verify_ticket"])
        try:
            answer = component.fetch_access_token()
        finally:
            component.session.set("component_verify_ticket", latest)
        expect(bool(answer.get("component_access_token")), f"no component_access_token in {answer}")
        return "fetch_access_token with the ticket issued at creation"

    def pre_auth_code() -> str:
        state["consent_url"] = component.get_pre_auth_url(REDIRECT)
        expect("pre_auth_code=" in state["consent_url"], state["consent_url"])
        return "get_pre_auth_url"

    def authorization() -> str:
        page = browser.get(state["consent_url"] + "&auth_type=3&biz_appid=" + oa["appid"])
        answered = sandbox.scan(confirmation_url(page.text), oa["admin_wxid"], "confirm")
        expect(answered["status"] == "confirmed", f"confirmation {answered}")
        state["redirect"] = redirect = answered["redirect_url"]
        info = component.query_auth(query_param(redirect, "auth_code"))["authorization_info"]
        expect(info["authorizer_appid"] == oa["appid"], f"authorizer_appid {info['authorizer_appid']}")
        state["func_info"] = info.get("func_info", [])
        state["refresh_token"] = info["authorizer_refresh_token"]
        state["oa_client"] = component.get_client_by_appid(oa["appid"])
        state["oa_client"].API_BASE_URL = BASE + "/cgi-bin/"
        return "consent page confirmed, query_auth"

    def authorization_shape() -> str:
        redirect = state["redirect"]
        expect(query_param(redirect, "expires_in") == "600", f"redirect expires_in (fidelity row 15): {redirect}")
        ids = {f["funcscope_category"]["id"] for f in state["func_info"]}
        expect(27 in ids, f"permission set 27 not in func_info {sorted(ids)} (fidelity row 1)")
        return "expires_in=600, func_info has set 27"

    def authorizer_info() -> str:
        answer = component.get_authorizer_info(oa["appid"])
        authorizer, authorization = answer["authorizer_info"], answer["authorization_info"]
        expect(
            bool(authorization.get("authorizer_refresh_token")),
            "no authorization_info.authorizer_refresh_token (fidelity row 7)",
        )
        missing = {"account_status", "register_type", "basic_config"} - set(authorizer)
        expect(not missing, f"authorizer_info lacks {sorted(missing)} (fidelity row 7)")
        return "get_authorizer_info"

    def authorizer_token_refresh() -> str:
        answer = component.refresh_authorizer_token(oa["appid"], state["refresh_token"])
        expect(bool(answer.get("authorizer_access_token")), f"no authorizer_access_token in {answer}")
        return "refresh_authorizer_token"

    def authorizer_list() -> str:
        answer = component.get_authorizer_list(0, 100)
        listed = [entry.get("authorizer_appid") for entry in answer.get("list", [])]
        expect(oa["appid"] in listed, f"{oa['appid']} not in {listed} (fidelity row 9)")
        return f"total_count {answer.get('total_count')}"

    def fastregister() -> str:
        page = browser.get(
            BASE
            + "/cgi-bin/fastregisterauth?"
            + urlencode(
                {
                    "appid": oa["appid"],
                    "component_appid": created["component_appid"],
                    "copy_wx_verify": 1,
                    "redirect_uri": REDIRECT,
                }
            )
        )
        answered = sandbox.scan(confirmation_url(page.text), oa["admin_wxid"], "confirm")
        state["ticket"] = query_param(answered["redirect_url"], "ticket")
        result = state["oa_client"].post("account/fastregister", data={"ticket": state["ticket"]})
        expect(result.get("is_wx_verify_succ") == "true", f"is_wx_verify_succ {result.get('is_wx_verify_succ')}")
        state["mp_appid"] = result["appid"]
        mp = component.query_auth(result["authorization_code"])["authorization_info"]
        expect(mp["authorizer_appid"] == result["appid"], f"query_auth of the new MP gave {mp['authorizer_appid']}")
        state["mp_client"] = component.get_client_by_appid(result["appid"])
        state["mp_client"].API_BASE_URL = BASE + "/cgi-bin/"
        return f"account/fastregister → {result['appid']}"

    def getaccountbasicinfo() -> str:
        basic = state["mp_client"].get("account/getaccountbasicinfo")
        expect(basic.get("appid") == state["mp_appid"], f"appid {basic.get('appid')}")
        missing = BASIC_INFO_KEYS - set(basic)
        expect(not missing, f"lacks {sorted(missing)} (fidelity row 5)")
        expect(basic["realname_status"] == 1, f"realname_status {basic['realname_status']}")
        expect(basic["wx_verify_info"].get("qualification_verify") is True, "wx_verify_info.qualification_verify")
        return "GET account/getaccountbasicinfo"

    def wxamplinkget() -> str:
        items = state["oa_client"].post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
        (item,) = [i for i in items if i.get("appid") == state["mp_appid"]] or [None]
        expect(item is not None, f"the new MP is not in {items}")
        expect(item["status"] == 1, f"status {item['status']}")
        expect(set(item) == LINK_ITEM_KEYS, f"keys {sorted(set(item) ^ LINK_ITEM_KEYS)} differ (fidelity row 10)")
        return "wxopens.items shape"

    refused: dict[str, WeChatClientException] = {}

    def refusal_errcode() -> str:
        try:
            state["oa_client"].post("account/fastregister", data={"ticket": state["ticket"]})
        except WeChatClientException as error:
            refused["ticket"] = error
            expect(error.errcode == 61058, f"errcode {error.errcode}")
            return "WeChatClientException 61058 for a used ticket"
        raise Check("a used ticket was accepted")

    def refusal_errmsg() -> str:
        error = refused.get("ticket")
        expect(error is not None, "no refusal to read")
        message = str(error.errmsg)  # type: ignore[union-attr]
        expect(message.startswith("invalid ticket rid: ") and bool(RID.search(message)), repr(message))
        return repr(message)

    def refusal_auth_code() -> str:
        try:
            component.query_auth("not-a-code")
        except WeChatClientException as error:
            expect(error.errcode == 61009, f"errcode {error.errcode} {error.errmsg!r} (fidelity row 6)")
            return "WeChatClientException 61009"
        raise Check("an unknown authorization code was accepted")

    for name, step in [
        ("push_verify_ticket", push_verify_ticket),
        ("component_token", component_token),
        ("older_ticket_token", older_ticket_token),
        ("pre_auth_code", pre_auth_code),
        ("authorization", authorization),
        ("authorization_shape", authorization_shape),
        ("authorizer_info", authorizer_info),
        ("authorizer_token_refresh", authorizer_token_refresh),
        ("authorizer_list", authorizer_list),
        ("fastregister", fastregister),
        ("getaccountbasicinfo", getaccountbasicinfo),
        ("wxamplinkget", wxamplinkget),
        ("refusal_errcode", refusal_errcode),
        ("refusal_errmsg", refusal_errmsg),
        ("refusal_auth_code", refusal_auth_code),
    ]:
        call(name, step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
