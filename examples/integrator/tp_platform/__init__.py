"""A third-party platform's fast-registration code (the code under test): nothing in it knows about fastreg,
only the base URL of WeChat's API is configurable."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from wechatpy.component import WeChatComponent
from wechatpy.exceptions import WeChatClientException

WECHAT = "https://api.weixin.qq.com"
SYSTEM_ERROR = -1


class FastRegistration:
    """Fast registration of Mini Programs for the Official Accounts that authorize this component."""

    def __init__(
        self, component_appid: str, secret: str, token: str, encoding_aes_key: str, base_url: str = WECHAT
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.component = WeChatComponent(component_appid, secret, token, encoding_aes_key)
        self.component.API_BASE_URL = self.base_url + "/cgi-bin"
        self.component.PRE_AUTH_URL = self.base_url + "/cgi-bin/componentloginpage"

    # ------------------------------------------------------------ the callback URL

    def start_push_ticket(self) -> None:
        """Ask WeChat to push a component_verify_ticket now (and every 10 minutes) to the callback URL."""
        answer = requests.post(
            self.component.API_BASE_URL + "/component/api_start_push_ticket",
            json={
                "component_appid": self.component.component_appid,
                "component_secret": self.component.component_appsecret,
            },
            timeout=30,
        ).json()
        if answer.get("errcode", 0) != 0:
            raise WeChatClientException(answer["errcode"], answer.get("errmsg", ""))

    def receive(self, body: str, msg_signature: str, timestamp: str, nonce: str) -> Any:
        """A push to the callback URL: decrypted, and a component_verify_ticket kept for the token."""
        message = self.component.parse_message(body, msg_signature, timestamp, nonce)
        if message.type == "component_verify_ticket":
            self.component.session.set("component_verify_ticket", message.verify_ticket)
        return message

    # ------------------------------------------------------------ authorization

    def consent_url(self, redirect_uri: str, oa_appid: str) -> str:
        """Where the OA's admin authorizes this component."""
        return str(self.component.get_pre_auth_url(redirect_uri)) + "&" + urlencode({"biz_appid": oa_appid})

    def authorized(self, redirect_url: str) -> str:
        """The consent page's redirect: exchanges its auth_code; the authorizer's appid."""
        code = parse_qs(urlparse(redirect_url).query)["auth_code"][0]
        info = self.component.query_auth(code)["authorization_info"]
        return str(info["authorizer_appid"])

    # ------------------------------------------------------------ fast registration

    def fastregister_url(self, oa_appid: str, redirect_uri: str, copy_wx_verify: bool = True) -> str:
        """Where the OA's admin agrees to the fast registration (the redirect carries the ticket)."""
        query = {
            "appid": oa_appid,
            "component_appid": self.component.component_appid,
            "copy_wx_verify": int(copy_wx_verify),
            "redirect_uri": redirect_uri,
        }
        return f"{self.base_url}/cgi-bin/fastregisterauth?{urlencode(query)}"

    def register(self, oa_appid: str, redirect_url: str, attempts: int = 3) -> dict[str, Any]:
        """The ticket of the fastregisterauth redirect turned into a Mini Program: its appid and authorization
        (``query_auth`` of the answer's authorization_code). ``-1 system error`` is retried."""
        ticket = parse_qs(urlparse(redirect_url).query)["ticket"][0]
        client = self.component.get_client_by_appid(oa_appid)
        client.API_BASE_URL = self.base_url + "/cgi-bin/"
        for attempt in range(attempts):
            try:
                result = client.post("account/fastregister", data={"ticket": ticket})
                break
            except WeChatClientException as error:
                if error.errcode != SYSTEM_ERROR or attempt == attempts - 1:
                    raise
        info = self.component.query_auth(result["authorization_code"])["authorization_info"]
        return {
            "appid": result["appid"],
            "verified": result["is_wx_verify_succ"] == "true",
            "linked": result["is_link_succ"] == "true",
            "authorizer_appid": info["authorizer_appid"],
        }

    def linked_mini_programs(self, oa_appid: str) -> list[tuple[str, int]]:
        """The Mini Programs linked to the OA, with their link status."""
        client = self.component.get_client_by_appid(oa_appid)
        client.API_BASE_URL = self.base_url + "/cgi-bin/"
        items = client.post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
        return [(item["appid"], item["status"]) for item in items]
