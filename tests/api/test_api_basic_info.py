"""account/getaccountbasicinfo over real HTTP: GET (WxJava, silenceper, Senparc) and POST (the current
documentation, EasyWeChat, PowerWeChat), for a Mini Program's and an Official Account's token, in WeChat's
shape (nested keys and types as the SDKs' structs read them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.api.world import OA, Component, World

PATH = "/cgi-bin/account/getaccountbasicinfo"
TOP_KEYS = {
    "errcode",
    "errmsg",
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


def mp_token(world: World, component: Component, oa: OA, *, copy_wx_verify: int) -> tuple[str, str]:
    owner_token = world.authorize(component, oa)
    answer = world.fastregister(owner_token, world.ticket(component, oa, copy_wx_verify=copy_wx_verify))
    assert answer["errcode"] == 0, answer
    info = world.query_auth(component, answer["authorization_code"])
    return str(answer["appid"]), str(info["authorizer_access_token"])


def both_methods(world: World, token: str) -> dict[str, Any]:
    """The GET answer, after checking that POST (with ``{}`` or no body) answers the same."""
    got: dict[str, Any] = world.get(PATH, access_token=token)
    assert world.post(PATH, {}, access_token=token) == got
    assert world.post(PATH, raw=b"", access_token=token) == got
    return got


def assert_profile_shape(info: dict[str, Any], nickname: str) -> None:
    assert set(info) == TOP_KEYS
    assert info["signature_info"] == {"signature": "", "modify_used_count": 0, "modify_quota": 5}
    assert info["head_image_info"] == {"head_image_url": "", "modify_used_count": 0, "modify_quota": 5}
    assert info["nickname_info"] == {"nickname": nickname, "modify_used_count": 0, "modify_quota": 2}
    assert info["registered_country"] == 1017 and info["nickname"] == nickname
    assert isinstance(info["credential"], str)


def test_certified_mini_program_by_get_and_post(world: World) -> None:
    component = world.component()
    oa = world.oa(principal_name="基本信息甲公司", principal_type="enterprise")
    appid, token = mp_token(world, component, oa, copy_wx_verify=1)
    info = both_methods(world, token)
    assert_profile_shape(info, "")
    assert (info["errcode"], info["errmsg"], info["appid"], info["account_type"]) == (0, "ok", appid, 3)
    assert (info["principal_type"], info["principal_name"]) == (1, "基本信息甲公司")
    assert info["realname_status"] == 1 and info["customer_type"] == 1
    verify = info["wx_verify_info"]
    assert set(verify) == {
        "qualification_verify",
        "naming_verify",
        "annual_review",
        "annual_review_begin_time",
        "annual_review_end_time",
    }
    assert verify["qualification_verify"] is True and verify["naming_verify"] is True
    assert isinstance(verify["annual_review"], bool)
    # Unix times (silenceper and PowerWeChat read int64); the review ends when the certification does.
    certified_until = datetime.fromisoformat(world.sandbox.mini_program(appid)["certified_until"])
    assert verify["annual_review_end_time"] == int(certified_until.timestamp())
    assert isinstance(verify["annual_review_begin_time"], int)
    assert verify["annual_review_begin_time"] < verify["annual_review_end_time"]


def test_uncertified_mini_program_is_realname_2_and_customer_type_0(world: World) -> None:
    component = world.component()
    oa = world.oa(principal_type="enterprise")
    _, token = mp_token(world, component, oa, copy_wx_verify=0)
    info = both_methods(world, token)
    assert_profile_shape(info, "")
    assert info["realname_status"] == 2 and info["customer_type"] == 0
    # The annual review keys come only with a qualification.
    assert info["wx_verify_info"] == {"qualification_verify": False, "naming_verify": False}


def test_official_accounts_token_by_get_and_post(world: World) -> None:
    oa = world.oa(name="基本信息公众号", principal_name="基本信息乙公司", principal_type="individual_business")
    component = world.component()
    for token in (
        world.authorize(component, oa),
        world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)["access_token"],
    ):
        info = both_methods(world, token)
        assert_profile_shape(info, "基本信息公众号")
        assert (info["appid"], info["account_type"], info["principal_name"]) == (oa.appid, 2, "基本信息乙公司")
        assert info["principal_type"] == 5 and info["realname_status"] == 1
        assert info["customer_type"] == 12  # an individual business, certified
        assert info["wx_verify_info"]["qualification_verify"] is True


def test_unverified_official_account(world: World) -> None:
    oa = world.oa(verified=False)
    token = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    info = both_methods(world, token["access_token"])
    assert info["account_type"] == 2 and info["realname_status"] == 2 and info["customer_type"] == 0
    assert info["wx_verify_info"] == {"qualification_verify": False, "naming_verify": False}
