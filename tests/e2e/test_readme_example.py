"""The complete test file of the README's "Testing your third-party platform against fastreg" section, verbatim:
it must keep working."""

from urllib.parse import parse_qs, urlparse

from wechatpy.component import WeChatComponent

from fastreg.testing import scan_url_from_page


def test_fast_registration(fastreg_sandbox, fastreg_base_url, fastreg_callback):  # type: ignore[no-untyped-def]
    base = fastreg_base_url
    oa = fastreg_sandbox.create_official_account(
        name="示例公众号", principal_name="示例科技有限公司", principal_type="enterprise"
    )
    c = fastreg_sandbox.create_component(
        name="示例第三方平台", redirect_domain="tp.example.com", callback_url=fastreg_callback.url
    )

    # wechatpy, unmodified: only the base URLs point at fastreg.
    component = WeChatComponent(c["component_appid"], c["component_appsecret"], c["token"], c["encoding_aes_key"])
    component.API_BASE_URL = base + "/cgi-bin"
    component.PRE_AUTH_URL = base + "/cgi-bin/componentloginpage"
    component.session.set("component_verify_ticket", c["component_verify_ticket"])

    # The OA admin authorizes the component on the consent page (the QR code is confirmed through the sandbox).
    page = fastreg_sandbox.open_page(
        component.get_pre_auth_url("https://tp.example.com/authorized") + "&biz_appid=" + oa["appid"]
    )
    done = fastreg_sandbox.scan(scan_url_from_page(page), oa["admin_wxid"])
    component.query_auth(parse_qs(urlparse(done["redirect_url"]).query)["auth_code"][0])

    # The OA admin approves the fast registration on the fastregisterauth page; the redirect carries the ticket.
    page = fastreg_sandbox.open_page(
        "/cgi-bin/fastregisterauth",
        params={
            "appid": oa["appid"],
            "component_appid": c["component_appid"],
            "copy_wx_verify": 1,
            "redirect_uri": "https://tp.example.com/registered",
        },
    )
    done = fastreg_sandbox.scan(scan_url_from_page(page), oa["admin_wxid"])
    ticket = parse_qs(urlparse(done["redirect_url"]).query)["ticket"][0]

    client = component.get_client_by_appid(oa["appid"])
    client.API_BASE_URL = base + "/cgi-bin/"
    result = client.post("account/fastregister", data={"ticket": ticket})
    assert result["is_wx_verify_succ"] == "true" and result["is_link_succ"] == "true"
    mp = component.query_auth(result["authorization_code"])["authorization_info"]
    assert mp["authorizer_appid"] == result["appid"]

    items = client.post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
    assert [(i["appid"], i["status"]) for i in items] == [(result["appid"], 1)]

    # Pushes to the callback are encrypted like WeChat's: parse_message decrypts them.
    fresh = fastreg_sandbox.issue_verify_ticket(c["component_appid"])
    messages = [push.parse(component) for push in fastreg_callback.wait_for(2)]
    assert fresh in [m.verify_ticket for m in messages if m.type == "component_verify_ticket"]
