"""Account and component tokens over real HTTP: /cgi-bin/token, api_component_token, api_create_preauthcode,
api_query_auth, api_authorizer_token, api_get_authorizer_info; expiry by the platform clock."""

from __future__ import annotations

from datetime import UTC, datetime

from fastreg.domain import secrets
from tests.api.world import World


def test_account_token_for_oa_valid_7200s_and_older_tokens_stay_valid(world: World) -> None:
    oa = world.oa()
    world.sandbox.set_clock(now="2026-11-10T04:00:00Z")
    first = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    assert first["errcode"] == 0 and first["errmsg"] == "ok"
    assert first["expires_in"] == 7200 and len(first["access_token"]) >= 22
    second = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    assert second["access_token"] != first["access_token"]
    for token in (first["access_token"], second["access_token"]):
        assert world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=7199)
    assert world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=first["access_token"])["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=1)
    expired = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=first["access_token"])
    assert expired == {"errcode": 42001, "errmsg": "access_token expired"}


def test_account_token_refusals(world: World) -> None:
    oa = world.oa()
    cases = [
        ({"grant_type": "password", "appid": oa.appid, "secret": oa.secret}, 40002),
        ({"grant_type": "client_credential", "appid": "wx0000000000000000", "secret": oa.secret}, 40013),
        ({"grant_type": "client_credential", "appid": oa.appid, "secret": "0" * 32}, 40125),
        ({"grant_type": "client_credential", "appid": oa.appid}, 40125),
        ({"grant_type": "client_credential"}, 40013),
    ]
    for params, errcode in cases:
        assert world.get("/cgi-bin/token", **params)["errcode"] == errcode, params


def test_tokens_are_stored_hashed(world: World) -> None:
    from sqlalchemy import select

    from fastreg.adapters.db.models import Credential

    oa = world.oa()
    token = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    with world.live.platform.uow(readonly=True) as uow:
        stored = uow.session.execute(select(Credential.token_hash)).scalars().all()
    assert secrets.token_hash(token["access_token"]) in stored
    assert token["access_token"] not in stored


def test_component_token_needs_secret_and_a_recent_verify_ticket(world: World) -> None:
    component = world.component(token=False)
    body = {
        "component_appid": component.appid,
        "component_appsecret": component.secret,
        "component_verify_ticket": component.verify_ticket,
    }
    answer = world.post("/cgi-bin/component/api_component_token", body)
    assert answer["errcode"] == 0 and answer["expires_in"] == 7200 and answer["component_access_token"]
    assert (
        world.post("/cgi-bin/component/api_component_token", {**body, "component_appsecret": "x"})["errcode"] == 40125
    )
    assert (
        world.post("/cgi-bin/component/api_component_token", {**body, "component_appid": "wx0000000000000000"})[
            "errcode"
        ]
        == 40013
    )
    wrong = world.post("/cgi-bin/component/api_component_token", {**body, "component_verify_ticket": "ticket@@@x"})
    assert wrong["errcode"] == 61006
    # A fresh ticket does not retire the older one (each is valid 12 hours).
    fresh = world.sandbox._call("POST", f"/components/{component.appid}/verify-ticket")["component_verify_ticket"]
    assert world.post("/cgi-bin/component/api_component_token", body)["errcode"] == 0
    renewed = world.post("/cgi-bin/component/api_component_token", {**body, "component_verify_ticket": fresh})
    assert renewed["errcode"] == 0


def test_pre_auth_code_and_component_token_checks(world: World) -> None:
    component = world.component()
    other = world.component()
    path = "/cgi-bin/component/api_create_preauthcode"
    answer = world.post(path, {"component_appid": component.appid}, component_access_token=component.access_token)
    assert answer["errcode"] == 0 and answer["expires_in"] == 1800 and answer["pre_auth_code"]
    assert world.post(path, {"component_appid": component.appid})["errcode"] == 41001
    assert world.post(path, {"component_appid": component.appid}, component_access_token="nope")["errcode"] == 40001
    # Another component's token, or an account token, is not this component's.
    mismatch = world.post(path, {"component_appid": component.appid}, component_access_token=other.access_token)
    assert mismatch["errcode"] == 40013
    oa = world.oa()
    oa_token = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    as_oa = world.post(path, {"component_appid": component.appid}, component_access_token=oa_token["access_token"])
    assert as_oa["errcode"] == 40001
    world.sandbox.set_clock(advance_seconds=7200)
    expired = world.post(path, {"component_appid": component.appid}, component_access_token=component.access_token)
    assert expired["errcode"] == 42001


def test_query_auth_refresh_and_authorizer_info(world: World) -> None:
    component = world.component()
    oa = world.oa(principal_name="深圳市测试科技有限公司")
    code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    info = world.query_auth(component, code)
    assert info["authorizer_appid"] == oa.appid
    assert info["expires_in"] == 7200
    assert {"funcscope_category": {"id": 27}} in info["func_info"]
    refresh = info["authorizer_refresh_token"]

    path = "/cgi-bin/component/api_authorizer_token"
    body = {"component_appid": component.appid, "authorizer_appid": oa.appid, "authorizer_refresh_token": refresh}
    refreshed = world.post(path, body, component_access_token=component.access_token)
    assert refreshed["errcode"] == 0 and refreshed["authorizer_refresh_token"] == refresh
    assert refreshed["authorizer_access_token"] != info["authorizer_access_token"]
    assert (
        world.post(path, {**body, "authorizer_refresh_token": "bad"}, component_access_token=component.access_token)[
            "errcode"
        ]
        == 61023
    )

    # Both authorizer tokens work for the OA.
    for token in (info["authorizer_access_token"], refreshed["authorizer_access_token"]):
        assert world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)["errcode"] == 0

    described = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": component.appid, "authorizer_appid": oa.appid},
        component_access_token=component.access_token,
    )
    assert described["errcode"] == 0
    assert described["authorizer_info"]["principal_name"] == "深圳市测试科技有限公司"
    assert described["authorizer_info"]["verify_type_info"] == {"id": 0}
    assert described["authorization_info"]["authorizer_appid"] == oa.appid

    stranger = world.oa()
    unknown = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": component.appid, "authorizer_appid": stranger.appid},
        component_access_token=component.access_token,
    )
    assert unknown["errcode"] == 40013
    bad_code = world.post(
        "/cgi-bin/component/api_query_auth",
        {"component_appid": component.appid, "authorization_code": "nope"},
        component_access_token=component.access_token,
    )
    assert bad_code == {"errcode": 61009, "errmsg": "code is invalid"}


def test_authorization_code_of_one_component_is_useless_to_another(world: World) -> None:
    first, second = world.component(), world.component()
    oa = world.oa()
    code = world.sandbox.authorize(first.appid, oa.appid)["authorization_code"]
    stolen = world.post(
        "/cgi-bin/component/api_query_auth",
        {"component_appid": second.appid, "authorization_code": code},
        component_access_token=second.access_token,
    )
    assert stolen == {"errcode": 61009, "errmsg": "code is invalid"}


def test_sandbox_authorization_code_expires_after_an_hour(world: World) -> None:
    component = world.component()
    oa = world.oa()
    world.sandbox.set_clock(now=datetime(2026, 11, 10, 4, tzinfo=UTC).isoformat())
    code = world.sandbox.authorize(component.appid, oa.appid)["authorization_code"]
    component.access_token = world.component_token(component)
    world.sandbox.set_clock(advance_seconds=3600)
    answer = world.post(
        "/cgi-bin/component/api_query_auth",
        {"component_appid": component.appid, "authorization_code": code},
        component_access_token=component.access_token,
    )
    assert answer == {"errcode": 61010, "errmsg": "code is expired"}


def test_fastregister_permission_set_moves_to_the_latest_component(world: World) -> None:
    """授权互斥: one component per OA holds the fast-registration permission set."""
    first, second = world.component(), world.component()
    oa = world.oa()
    world.authorize(first, oa)
    world.authorize(second, oa)

    def func_ids(component: object) -> set[int]:
        answer = world.post(
            "/cgi-bin/component/api_get_authorizer_info",
            {"component_appid": component.appid, "authorizer_appid": oa.appid},  # type: ignore[attr-defined]
            component_access_token=component.access_token,  # type: ignore[attr-defined]
        )
        return {item["funcscope_category"]["id"] for item in answer["authorization_info"]["func_info"]}

    assert 27 in func_ids(second)
    assert 27 not in func_ids(first)
    assert 25 in func_ids(first)  # 开放平台账号管理 is not the fast-registration set: it stays
    world.authorize(first, oa)
    assert 27 in func_ids(first) and 27 not in func_ids(second)


def test_a_component_cannot_act_for_an_account_that_authorized_another(world: World) -> None:
    rightful, other = world.component(), world.component()
    oa = world.oa()
    code = world.sandbox.authorize(rightful.appid, oa.appid)["authorization_code"]
    refresh = world.query_auth(rightful, code)["authorizer_refresh_token"]
    as_other = {"component_appid": other.appid, "authorizer_appid": oa.appid}
    assert world.post(
        "/cgi-bin/component/api_authorizer_token",
        {**as_other, "authorizer_refresh_token": refresh},
        component_access_token=other.access_token,
    ) == {"errcode": 61023, "errmsg": "refresh_token is invalid"}
    assert (
        world.post("/cgi-bin/component/api_get_authorizer_info", as_other, component_access_token=other.access_token)[
            "errcode"
        ]
        == 40013
    )
    # Nor can it name the rightful component in the body with its own token.
    spoofed = {"component_appid": rightful.appid, "authorizer_appid": oa.appid, "authorizer_refresh_token": refresh}
    assert (
        world.post("/cgi-bin/component/api_authorizer_token", spoofed, component_access_token=other.access_token)[
            "errcode"
        ]
        == 40013
    )
