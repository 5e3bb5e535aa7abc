"""The story fault injection exists for, told with the unmodified ``wechatpy``: ``account/fastregister`` creates
the Mini Program but its answer never reaches the client (the connection drops, as on a timeout); the retry
with the same ticket gets 61058; the integration recovers by finding the new MP among the OA's linked Mini
Programs (``wxopen/wxamplinkget``)."""

from __future__ import annotations

import httpx
import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from fastreg.testing import Faults, SandboxClient, wechatpy_component
from tests.api.world import World


def test_dropped_fastregister_answer_then_61058_then_recovery_by_link_list(world: World) -> None:
    sandbox, base = world.sandbox, world.live.base_url
    oa = world.oa(principal_name="掉线测试有限公司")
    c = world.component(token=False)
    component = wechatpy_component(base, c.appid, c.secret, c.token, c.encoding_aes_key)
    component.session.set("component_verify_ticket", c.verify_ticket)
    component.query_auth(sandbox.authorize(c.appid, oa.appid)["authorization_code"])
    client = component.get_client_by_appid(oa.appid)
    client.API_BASE_URL = base + "/cgi-bin/"
    ticket = world.ticket(c, oa)  # the admin confirmed the fastregisterauth page's QR code

    # The MP is created and committed, but the connection closes before any answer.
    Faults(sandbox).drop("/cgi-bin/account/fastregister", appid=oa.appid)
    with pytest.raises(requests.ConnectionError):
        client.post("account/fastregister", data={"ticket": ticket})

    # The natural retry with the same ticket: WeChat's 61058, and no second MP.
    with pytest.raises(WeChatClientException) as retried:
        client.post("account/fastregister", data={"ticket": ticket})
    assert retried.value.errcode == 61058

    # Recovery: the OA's linked Mini Programs list the one the lost answer was about.
    items = client.post("wxopen/wxamplinkget", data={})["wxopens"]["items"]
    assert len(items) == 1 and items[0]["status"] == 1
    mp = sandbox.mini_program(items[0]["appid"])
    assert mp["linked_oa"] == oa.appid and mp["principal_name"] == "掉线测试有限公司"
    assert sandbox.official_account(oa.appid)["quota"]["used"] == 1


def test_the_plugin_fixture_injects_an_errcode(
    fastreg_sandbox: SandboxClient, fastreg_faults: Faults, fastreg_base_url: str
) -> None:
    oa = fastreg_sandbox.create_official_account(
        name="限频测试号", principal_name="限频公司", principal_type="enterprise"
    )
    fastreg_faults.errcode("/cgi-bin/token", 45009)
    token_url = fastreg_base_url + "/cgi-bin/token"
    params = {"grant_type": "client_credential", "appid": oa["appid"], "secret": oa["secret"]}

    first, second = httpx.get(token_url, params=params).json(), httpx.get(token_url, params=params).json()

    assert first["errcode"] == 45009 and first["errmsg"].startswith("reach max api daily quota limit")
    assert second["errcode"] == 0
    assert [(f["path"], f["remaining"]) for f in fastreg_faults.list()] == [("/cgi-bin/token", 0)]
