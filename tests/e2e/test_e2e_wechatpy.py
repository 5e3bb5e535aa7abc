"""The whole flow driven by the unmodified ``wechatpy`` package, as a third-party platform written for WeChat
would run it against fastreg by changing only the base URL:

component token (verify ticket) → pre-auth code → the OA admin confirms the consent page → query_auth →
the fastregisterauth page's QR code (decoded from the PNG with zxing-cpp) confirmed by the OA admin →
``account/fastregister`` → query_auth of the new MP → ``account/getaccountbasicinfo`` → ``wxopen/wxamplinkget``
→ a verify-ticket push to a local callback decrypted by ``parse_message``."""

from __future__ import annotations

import io
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import zxingcpp
from PIL import Image
from wechatpy.client import WeChatComponentClient
from wechatpy.component import WeChatComponent
from wechatpy.exceptions import WeChatClientException

from fastreg.testing import CallbackServer, SandboxClient

REDIRECT = "https://tp.example.com/wechat/redirect"


def qr_url_from_page(page: httpx.Response) -> str:
    """Decode the page's QR code (``img#scan-qr``, a PNG loaded from its ``src`` as a browser loads it) with
    zxing-cpp, and check it against the ``data-confirmation-url`` attribute."""
    tag = re.search(r'<img[^>]*id="scan-qr"[^>]*>', page.text)
    assert tag is not None
    src = re.search(r'src="([^"]+)"', tag.group(0))
    attribute = re.search(r'data-confirmation-url="([^"]+)"', tag.group(0))
    assert src is not None and attribute is not None
    loaded = httpx.get(page.url.join(unescape(src.group(1))), timeout=30)
    assert loaded.status_code == 200 and loaded.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(loaded.content))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    decoded = str(results[0].text)
    assert decoded == unescape(attribute.group(1))
    return decoded


def param(url: str, name: str) -> str:
    return parse_qs(urlparse(url).query)[name][0]


def test_fast_registration_with_wechatpy(
    live: object, sandbox: SandboxClient, fastreg_callback: CallbackServer
) -> None:
    base = live.base_url  # type: ignore[attr-defined]

    # The sandbox creates the OA and the component.
    oa = sandbox.create_official_account(
        name="快注册测试公众号", principal_name="杭州快注册科技有限公司", principal_type="enterprise"
    )
    created = sandbox.create_component(
        name="快注册第三方平台", redirect_domain="tp.example.com", callback_url=fastreg_callback.url
    )

    # wechatpy, unmodified, pointed at fastreg.
    component = WeChatComponent(
        created["component_appid"], created["component_appsecret"], created["token"], created["encoding_aes_key"]
    )
    component.API_BASE_URL = base + "/cgi-bin"
    component.PRE_AUTH_URL = base + "/cgi-bin/componentloginpage"
    component.session.set("component_verify_ticket", created["component_verify_ticket"])

    # Component token with the issued verify ticket, then a pre-auth code.
    assert component.fetch_access_token()["expires_in"] == 7200
    pre_auth = component.create_preauthcode()
    assert pre_auth["expires_in"] == 1800

    # The consent page (wechatpy builds its URL); the OA admin scans and confirms.
    consent_url = component.get_pre_auth_url(REDIRECT)
    with httpx.Client(timeout=30) as browser:
        page = browser.get(consent_url + "&biz_appid=" + oa["appid"])
        confirmed = sandbox.scan(qr_url_from_page(page), oa["admin_wxid"], "confirm")
    assert confirmed["status"] == "confirmed"
    auth_code = param(confirmed["redirect_url"], "auth_code")
    assert param(confirmed["redirect_url"], "expires_in") == "600"

    # query_auth gives the OA's authorizer token (wechatpy stores it).
    auth = component.query_auth(auth_code)["authorization_info"]
    assert auth["authorizer_appid"] == oa["appid"] and auth["authorizer_access_token"]
    oa_client = component.get_client_by_appid(oa["appid"])
    assert isinstance(oa_client, WeChatComponentClient)
    oa_client.API_BASE_URL = base + "/cgi-bin/"

    # The fastregisterauth page: its QR code decoded from the PNG, confirmed by the OA admin.
    with httpx.Client(timeout=30) as browser:
        page = browser.get(
            base + "/cgi-bin/fastregisterauth",
            params={
                "appid": oa["appid"],
                "component_appid": created["component_appid"],
                "copy_wx_verify": 1,
                "redirect_uri": REDIRECT,
            },
        )
    confirmed = sandbox.scan(qr_url_from_page(page), oa["admin_wxid"], "confirm")
    ticket = param(confirmed["redirect_url"], "ticket")

    # account/fastregister through wechatpy's client.
    result = oa_client.post("account/fastregister", data={"ticket": ticket})
    assert result["errcode"] == 0 and result["errmsg"] == ""
    assert result["is_wx_verify_succ"] == "true" and result["is_link_succ"] == "true"
    mp_appid = result["appid"]

    # A retry with the same ticket is refused (single-use) and creates nothing.
    with pytest.raises(WeChatClientException) as refused:
        oa_client.post("account/fastregister", data={"ticket": ticket})
    assert refused.value.errcode == 61058
    assert re.fullmatch(r"invalid ticket rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}", refused.value.errmsg)

    # The new MP is authorized to the same component.
    mp_auth = component.query_auth(result["authorization_code"])["authorization_info"]
    assert mp_auth["authorizer_appid"] == mp_appid
    mp_client = component.get_client_by_appid(mp_appid)
    mp_client.API_BASE_URL = base + "/cgi-bin/"
    basic = mp_client.get("account/getaccountbasicinfo")
    assert basic["appid"] == mp_appid and basic["principal_name"] == "杭州快注册科技有限公司"
    assert basic["wx_verify_info"]["qualification_verify"] is True
    info = component.get_authorizer_info(mp_appid)
    assert info["authorizer_info"]["principal_name"] == "杭州快注册科技有限公司"

    # wxamplinkget lists the MP as linked.
    items = oa_client.post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
    assert [(i["appid"], i["status"], i["selected"]) for i in items] == [(mp_appid, 1, 0)]

    # The callback heard the authorization (parse_message decrypts it); WeChat sends no push for fastregister.
    (authorized,) = fastreg_callback.wait_for(1)
    assert authorized.parse(component).type == "authorized"

    # A component_verify_ticket push to the local callback, decrypted by parse_message.
    fastreg_callback.clear()
    fresh = sandbox.issue_verify_ticket(created["component_appid"])
    (push,) = fastreg_callback.wait_for(1)
    message = push.parse(component)
    assert message.type == "component_verify_ticket" and message.verify_ticket == fresh
    assert component.component_verify_ticket == fresh

    # The refreshed ticket keeps wechatpy working: a new component token, then the authorizer refresh.
    assert component.fetch_access_token()["component_access_token"]
    refreshed = component.refresh_authorizer_token(oa["appid"], auth["authorizer_refresh_token"])
    assert refreshed["authorizer_access_token"]


def test_wechatpy_renews_expired_tokens_by_itself(live: object, sandbox: SandboxClient) -> None:
    """42001 is WeChat's: after two hours of platform time wechatpy refreshes the component token and the
    authorizer token on its own (auto_retry) and the call goes through."""
    base = live.base_url  # type: ignore[attr-defined]
    sandbox.set_clock(now="2026-11-10T04:00:00Z")
    oa = sandbox.create_official_account(name="过期测试号", principal_name="过期测试有限公司", principal_type="media")
    created = sandbox.create_component(name="过期测试平台", redirect_domain="tp.example.com")
    component = WeChatComponent(
        created["component_appid"], created["component_appsecret"], created["token"], created["encoding_aes_key"]
    )
    component.API_BASE_URL = base + "/cgi-bin"
    component.session.set("component_verify_ticket", created["component_verify_ticket"])
    component.query_auth(sandbox.authorize(created["component_appid"], oa["appid"])["authorization_code"])
    client = component.get_client_by_appid(oa["appid"])
    client.API_BASE_URL = base + "/cgi-bin/"
    first_token = client.access_token
    assert client.post("wxopen/wxamplinkget", data={})["errcode"] == 0

    sandbox.set_clock(advance_seconds=7200)
    # wechatpy's own clock still trusts its cached tokens; fastreg answers 42001 and wechatpy renews them.
    component.expires_at = None
    assert client.post("wxopen/wxamplinkget", data={})["wxopens"]["items"] == []
    assert client.access_token != first_token


def test_links_with_wechatpy(live: object, sandbox: SandboxClient) -> None:
    """wxamplink / wxamplinkget / wxampunlink through wechatpy's client, with WeChat's errcodes as exceptions."""
    base = live.base_url  # type: ignore[attr-defined]
    created = sandbox.create_component(name="关联测试平台", redirect_domain="tp.example.com")
    component = WeChatComponent(
        created["component_appid"], created["component_appsecret"], created["token"], created["encoding_aes_key"]
    )
    component.API_BASE_URL = base + "/cgi-bin"
    component.session.set("component_verify_ticket", created["component_verify_ticket"])
    owner = sandbox.create_official_account(name="主号", principal_name="关联测试甲公司", principal_type="enterprise")
    linker = sandbox.create_official_account(
        name="关联号", principal_name="关联测试乙公司", principal_type="enterprise"
    )
    clients = {}
    for oa in (owner, linker):
        component.query_auth(sandbox.authorize(created["component_appid"], oa["appid"])["authorization_code"])
        clients[oa["appid"]] = component.get_client_by_appid(oa["appid"])
        clients[oa["appid"]].API_BASE_URL = base + "/cgi-bin/"

    with httpx.Client(timeout=30) as browser:
        page = browser.get(
            base + "/cgi-bin/fastregisterauth",
            params={
                "appid": owner["appid"],
                "component_appid": created["component_appid"],
                "copy_wx_verify": 0,
                "redirect_uri": REDIRECT,
            },
        )
    ticket = param(sandbox.scan(qr_url_from_page(page), owner["admin_wxid"])["redirect_url"], "ticket")
    mp_appid = clients[owner["appid"]].post("account/fastregister", data={"ticket": ticket})["appid"]

    linking = clients[linker["appid"]]
    assert (
        linking.post("wxopen/wxamplink", data={"appid": mp_appid, "notify_users": 0, "show_profile": 1})["errcode"] == 0
    )
    assert linking.post("wxopen/wxamplinkget", data={})["wxopens"]["items"][0]["status"] == 12
    for wxid, kind in ((linker["admin_wxid"], "link_oa_admin"), (owner["admin_wxid"], "link_mp_admin")):
        (pending,) = [c for c in sandbox.confirmations(wxid) if c["kind"] == kind]
        assert sandbox.answer(pending["id"], wxid)["status"] == "confirmed"
    (item,) = linking.post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
    assert (item["appid"], item["status"], item["selected"]) == (mp_appid, 1, 1)
    assert item["func_infos"] == item["func_info"] and "linked_via" not in item

    with pytest.raises(WeChatClientException) as duplicate:
        linking.post("wxopen/wxamplink", data={"appid": mp_appid})
    assert duplicate.value.errcode == 89015
    # Unlinking waits for the OA admin; asking again meanwhile raises 89018.
    assert linking.post("wxopen/wxampunlink", data={"appid": mp_appid})["errcode"] == 0
    with pytest.raises(WeChatClientException) as waiting:
        linking.post("wxopen/wxampunlink", data={"appid": mp_appid})
    assert waiting.value.errcode == 89018
    (pending,) = [c for c in sandbox.confirmations(linker["admin_wxid"]) if c["kind"] == "unlink_oa_admin"]
    assert sandbox.answer(pending["id"], linker["admin_wxid"])["status"] == "confirmed"
    assert linking.post("wxopen/wxamplinkget", data={})["wxopens"]["items"] == []
    with pytest.raises(WeChatClientException) as gone:
        linking.post("wxopen/wxampunlink", data={"appid": mp_appid})
    assert gone.value.errcode == 40097
