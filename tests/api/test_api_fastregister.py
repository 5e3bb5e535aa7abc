"""POST /cgi-bin/account/fastregister over real HTTP: the success shape, every errcode of open-api.md's table
triggered through the API with the state unchanged afterwards, token checks first, single-use tickets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import Component as ComponentRow
from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.api.world import OA, Component, World, query_param

EXPECTED_ERRMSG = {
    61051: "invalid realname type",
    61052: "need to be certified",
    61053: "realname exceed limits",
    61054: "realname in black list",
    61055: "exceed quota per month",
    61056: "copy_wx_verify is required option",
    61057: "fast register is in progress",
    61058: "invalid ticket",
    61028: "component is unpublished",
    61029: "component need republish with base category",
    61060: "invalid redirect uri",
    61061: "overseas access deny",
}


@dataclass
class Setup:
    world: World
    component: Component
    oa: OA
    token: str  # the OA's authorizer access token held by the component


def ready(world: World, **oa_fields: Any) -> Setup:
    component = world.component()
    oa = world.oa(**oa_fields)
    return Setup(world, component, oa, world.authorize(component, oa))


def snapshot(world: World, oa: OA) -> dict[str, Any]:
    state = world.oa_state(oa)
    return {
        "quota_used": state["quota"]["used"],
        "linked": [mp["appid"] for mp in state["linked_mini_programs"]],
        "principal_mps": state["principal"]["mini_program_count"],
        "pending": state["pending_registration"],
    }


def assert_refused(world: World, setup: Setup, ticket: str, errcode: int, token: str | None = None) -> None:
    before = snapshot(world, setup.oa)
    answer = world.fastregister(token or setup.token, ticket)
    assert answer == {"errcode": errcode, "errmsg": EXPECTED_ERRMSG[errcode]}
    assert snapshot(world, setup.oa) == before


def set_component(world: World, appid: str, **fields: Any) -> None:
    """The sandbox API has no route to change a component after creation; tests set it in the database."""
    with world.live.platform.uow() as uow:
        row = uow.session.execute(select(ComponentRow).where(ComponentRow.appid == appid)).scalar_one()
        for name, value in fields.items():
            setattr(row, name, value)
        uow.commit()


# ---------------------------------------------------------------- success


def test_success_shape_link_certification_and_new_mp_authorization(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa, copy_wx_verify=1)
    before = snapshot(world, setup.oa)
    answer = world.fastregister(setup.token, ticket)
    assert set(answer) == {"errcode", "errmsg", "appid", "authorization_code", "is_wx_verify_succ", "is_link_succ"}
    assert answer["errcode"] == 0 and answer["errmsg"] == ""
    assert answer["is_wx_verify_succ"] == "true" and answer["is_link_succ"] == "true"
    mp_appid = answer["appid"]
    assert mp_appid.startswith("wx") and len(mp_appid) == 18

    after = snapshot(world, setup.oa)
    assert after["quota_used"] == before["quota_used"] + 1
    assert after["linked"] == [*before["linked"], mp_appid]
    assert after["principal_mps"] == before["principal_mps"] + 1

    mp = world.sandbox.mini_program(mp_appid)
    assert mp["certified"] is True and mp["created_via"] == "open_api"
    assert mp["show_profile"] is False and mp["notify_users"] is False

    # The new MP is authorized to the same component.
    info = world.query_auth(setup.component, answer["authorization_code"])
    assert info["authorizer_appid"] == mp_appid
    basic = world.get("/cgi-bin/account/getaccountbasicinfo", access_token=info["authorizer_access_token"])
    assert basic["errcode"] == 0 and basic["appid"] == mp_appid and basic["account_type"] == 3
    assert basic["principal_name"] == setup.oa.principal_name and basic["principal_type"] == 1
    assert basic["wx_verify_info"]["qualification_verify"] is True

    links = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=setup.token)["wxopens"]["items"]
    item = next(i for i in links if i["appid"] == mp_appid)
    assert item["status"] == 1 and item["selected"] == 0
    (linked,) = [i for i in world.oa_state(setup.oa)["linked_mini_programs"] if i["appid"] == mp_appid]
    assert linked["linked_via"] == "fast_register"

    # Single-use: a retry never creates a second MP.
    assert world.fastregister(setup.token, ticket) == {"errcode": 61058, "errmsg": EXPECTED_ERRMSG[61058]}
    assert snapshot(world, setup.oa) == after


def test_without_certification_reuse_the_flag_is_false(world: World) -> None:
    setup = ready(world)
    answer = world.fastregister(setup.token, world.ticket(setup.component, setup.oa, copy_wx_verify=0))
    assert answer["errcode"] == 0
    assert answer["is_wx_verify_succ"] == "false" and answer["is_link_succ"] == "true"
    assert world.sandbox.mini_program(answer["appid"])["certified"] is False


def test_a_ticket_used_concurrently_registers_once(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)

    def call(_: int) -> int:
        with httpx.Client(base_url=world.live.base_url, timeout=30) as client:
            response = client.post(
                "/cgi-bin/account/fastregister",
                params={"access_token": setup.token},
                content=f'{{"ticket":"{ticket}"}}',
            )
            return int(response.json()["errcode"])

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(call, range(8)))
    assert sorted(codes) == [0] + [61058] * 7
    assert len(snapshot(world, setup.oa)["linked"]) == 1


def test_concurrent_calls_each_get_their_own_answer_and_the_quota_holds(world: World) -> None:
    """Calls arriving together (on SQLite they are committed in groups, each call in its own savepoint): the
    enterprise OA gets exactly its 5, the individual business its 1, bad tickets 61058 without hurting the good
    one beside them."""
    enterprise = ready(world)
    individual = ready(world, principal_type="individual_business")
    calls = [(enterprise.token, world.ticket(enterprise.component, enterprise.oa)) for _ in range(8)]
    calls += [(individual.token, world.ticket(individual.component, individual.oa)) for _ in range(3)]
    other = ready(world)  # bad tickets, for an OA whose quota stays open (61055 would come before 61058)
    calls += [(other.token, "no-such-ticket") for _ in range(3)] + [
        (other.token, world.ticket(other.component, other.oa))
    ]

    async def send_all() -> list[tuple[str, int]]:
        async with httpx.AsyncClient(base_url=world.live.base_url, timeout=30) as client:

            async def one(token: str, ticket: str) -> tuple[str, int]:
                response = await client.post(
                    "/cgi-bin/account/fastregister",
                    params={"access_token": token},
                    content=f'{{"ticket":"{ticket}"}}',
                )
                return token, int(response.json()["errcode"])

            return list(await asyncio.gather(*(one(token, ticket) for token, ticket in calls)))

    answers = asyncio.run(send_all())
    by_caller = {
        token: sorted(code for caller, code in answers if caller == token)
        for token in (enterprise.token, individual.token, other.token)
    }
    assert by_caller[enterprise.token] == [0] * 5 + [61055] * 3
    assert by_caller[individual.token] == [0] + [61055] * 2
    assert by_caller[other.token] == [0] + [61058] * 3
    assert snapshot(world, other.oa)["quota_used"] == 1
    assert snapshot(world, enterprise.oa)["quota_used"] == 5
    assert len(snapshot(world, enterprise.oa)["linked"]) == 5
    assert snapshot(world, individual.oa)["quota_used"] == 1
    assert len(snapshot(world, individual.oa)["linked"]) == 1


# ---------------------------------------------------------------- token checks come first


def test_token_checked_first(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)
    assert world.fastregister(None, ticket) == {"errcode": 41001, "errmsg": "access_token missing"}
    assert world.fastregister("", ticket)["errcode"] == 41001
    assert world.fastregister("not-a-token", ticket)["errcode"] == 40001
    # An unknown token with a malformed body still reports the token.
    assert world.post("/cgi-bin/account/fastregister", raw=b"{oops", access_token="nope")["errcode"] == 40001
    assert world.post("/cgi-bin/account/fastregister", raw=b"", access_token="nope")["errcode"] == 40001
    world.sandbox.set_clock(advance_seconds=7200)
    assert world.fastregister(setup.token, ticket) == {"errcode": 42001, "errmsg": "access_token expired"}
    assert snapshot(world, setup.oa)["linked"] == []


def test_body_errors_after_the_token(world: World) -> None:
    setup = ready(world)
    path = "/cgi-bin/account/fastregister"
    assert world.post(path, raw=b"", access_token=setup.token) == {"errcode": 44002, "errmsg": "empty post data"}
    assert world.post(path, raw=b"{oops", access_token=setup.token)["errcode"] == 47001
    assert world.post(path, raw=b"[1,2]", access_token=setup.token)["errcode"] == 47001
    assert world.post(path, {"ticket": 123}, access_token=setup.token)["errcode"] == 47001
    assert world.post(path, {"ticket": None}, access_token=setup.token)["errcode"] == 47001
    assert world.post(path, {}, access_token=setup.token)["errcode"] == 40097


def test_mini_program_token_may_not_fast_register(world: World) -> None:
    setup = ready(world)
    first = world.fastregister(setup.token, world.ticket(setup.component, setup.oa))
    mp_token = world.query_auth(setup.component, first["authorization_code"])["authorizer_access_token"]
    ticket = world.ticket(setup.component, setup.oa)
    answer = world.fastregister(mp_token, ticket)
    assert answer == {"errcode": 48001, "errmsg": "api unauthorized"}
    assert world.fastregister(setup.token, ticket)["errcode"] == 0


# ---------------------------------------------------------------- 61058 and the ticket's rightful caller


def test_ticket_of_another_oa_is_refused_and_stays_usable(world: World) -> None:
    setup = ready(world)
    other_oa = world.oa()
    other_token = world.authorize(setup.component, other_oa)
    ticket = world.ticket(setup.component, setup.oa)
    before_other = snapshot(world, other_oa)
    assert_refused(world, setup, ticket, 61058, token=other_token)
    assert snapshot(world, other_oa) == before_other
    assert world.fastregister(setup.token, ticket)["errcode"] == 0


def test_ticket_of_another_component_is_refused_and_stays_usable(world: World) -> None:
    oa = world.oa()
    second = world.component()
    second_token = world.authorize(second, oa)
    first = world.component()
    first_token = world.authorize(first, oa)  # the fast-registration set is now with ``first``
    setup = Setup(world, first, oa, first_token)
    ticket = world.ticket(first, oa)
    assert_refused(world, setup, ticket, 61058, token=second_token)
    # The OA's own access token is not the component's either.
    own = world.get("/cgi-bin/token", grant_type="client_credential", appid=oa.appid, secret=oa.secret)
    assert_refused(world, setup, ticket, 61058, token=own["access_token"])
    assert world.fastregister(first_token, ticket)["errcode"] == 0


def test_moved_permission_set_makes_the_old_component_unauthorized(world: World) -> None:
    """授权互斥: once the OA authorizes another component with the set, the first one may not use its ticket."""
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)
    newcomer = world.component()
    newcomer_token = world.authorize(newcomer, setup.oa)
    before = snapshot(world, setup.oa)
    assert world.fastregister(setup.token, ticket) == {"errcode": 48001, "errmsg": "api unauthorized"}
    assert world.fastregister(newcomer_token, ticket)["errcode"] == 61058
    assert snapshot(world, setup.oa) == before
    # Authorizing the first component again brings the set (and the ticket's use) back.
    token = world.authorize(setup.component, setup.oa)
    assert world.fastregister(token, ticket)["errcode"] == 0


@pytest.mark.parametrize("how", ["unknown", "expired", "cancelled"])
def test_bad_tickets(world: World, how: str) -> None:
    setup = ready(world)
    if how == "unknown":
        ticket = "no-such-ticket"
    elif how == "expired":
        ticket = world.ticket(setup.component, setup.oa)
        world.sandbox.set_clock(advance_seconds=601)
    else:
        from tests.api.world import qr_url

        url = qr_url(world.auth_page(setup.component, setup.oa))
        answer = world.sandbox.scan(url, setup.oa.admin_wxid, "cancel")
        assert answer == {"status": "cancelled", "redirect_url": None}
        ticket = "cancelled-scan-has-no-ticket"
    assert_refused(world, setup, ticket, 61058)


def test_only_the_oa_admin_may_confirm(world: World) -> None:
    setup = ready(world)
    from tests.api.world import qr_url

    url = qr_url(world.auth_page(setup.component, setup.oa))
    response = world.sandbox.http.post("/scans", json={"url": url, "wxid": "wxid_stranger01", "action": "confirm"})
    assert response.status_code == 403
    answer = world.sandbox.scan(url, setup.oa.admin_wxid, "confirm")
    assert world.fastregister(setup.token, query_param(answer["redirect_url"], "ticket"))["errcode"] == 0


# ---------------------------------------------------------------- eligibility, in the table's order


def test_61051_personal_principal(world: World) -> None:
    setup = ready(world, principal_type="personal")
    assert_refused(world, setup, world.ticket(setup.component, setup.oa, copy_wx_verify=0), 61051)


def test_61051_comes_before_61058(world: World) -> None:
    setup = ready(world, principal_type="personal")
    assert_refused(world, setup, "bogus", 61051)


def test_61052_not_verified(world: World) -> None:
    setup = ready(world, verified=False)
    assert_refused(world, setup, world.ticket(setup.component, setup.oa), 61052)


def test_61054_blacklisted(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)
    world.sandbox._call("PATCH", f"/principals/{setup.oa.principal_name}", json={"blacklisted": True})
    assert_refused(world, setup, ticket, 61054)
    world.sandbox._call("PATCH", f"/principals/{setup.oa.principal_name}", json={"blacklisted": False})
    assert world.fastregister(setup.token, ticket)["errcode"] == 0


def test_61055_monthly_quota(world: World) -> None:
    setup = ready(world, principal_type="individual_business")
    assert world.fastregister(setup.token, world.ticket(setup.component, setup.oa))["errcode"] == 0
    ticket = world.ticket(setup.component, setup.oa)
    assert_refused(world, setup, ticket, 61055)
    assert world.oa_state(setup.oa)["quota"] == {**world.oa_state(setup.oa)["quota"], "used": 1, "remaining": 0}


def test_61055_five_a_month_for_an_enterprise(world: World) -> None:
    setup = ready(world)
    for _ in range(5):
        assert world.fastregister(setup.token, world.ticket(setup.component, setup.oa))["errcode"] == 0
    assert_refused(world, setup, world.ticket(setup.component, setup.oa), 61055)


@pytest.mark.parametrize("principal_type", ["government", "media", "other_org"])
def test_61056_certification_reuse_required(world: World, principal_type: str) -> None:
    setup = ready(world, principal_type=principal_type)
    assert_refused(world, setup, world.ticket(setup.component, setup.oa, copy_wx_verify=0), 61056)
    answer = world.fastregister(setup.token, world.ticket(setup.component, setup.oa, copy_wx_verify=1))
    assert answer["errcode"] == 0 and answer["is_wx_verify_succ"] == "true"


def test_61057_pending_registration(world: World) -> None:
    from fastreg.services import registration

    setup = ready(world)
    platform = world.live.platform
    with platform.uow(readonly=True) as uow:
        from fastreg.adapters.db.models import Operator

        oa_row = uow.accounts.official_account(setup.oa.appid)
        operator_id = uow.session.execute(select(Operator.id).where(Operator.oa_id == oa_row.id)).scalar_one()
        oa_id = oa_row.id
    view = registration.start(platform, operator_id)
    scan = registration.new_scan(platform, oa_id, view.id)
    world.sandbox.scan(scan.url, setup.oa.admin_wxid, "confirm")
    registration.choose_qualifications(platform, oa_id, view.id, True, False)
    registration.submit_account(platform, oa_id, view.id, "pending-mp@example.com", "Passw0rd99", "Passw0rd99", None)
    assert world.oa_state(setup.oa)["pending_registration"] is not None
    assert_refused(world, setup, world.ticket(setup.component, setup.oa), 61057)


def test_61028_component_unpublished(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)
    set_component(world, setup.component.appid, published=False)
    assert_refused(world, setup, ticket, 61028)


def test_61029_component_lacks_permission_set(world: World) -> None:
    setup = ready(world)
    ticket = world.ticket(setup.component, setup.oa)
    set_component(world, setup.component.appid, permission_sets=[1, 2, 3])
    assert_refused(world, setup, ticket, 61029)


def test_61061_overseas(world: World) -> None:
    setup = ready(world, overseas=True)
    assert_refused(world, setup, world.ticket(setup.component, setup.oa), 61061)


# ---------------------------------------------------------------- 61053 needs a small principal limit


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fastreg-limited")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}",
        data_dir=data_dir,
        sandbox_key="limited-key",
        principal_mp_limit=1,
    )
    live, stop = run_live_server(settings)
    yield live
    stop()


def test_61053_principal_limit(limited_server: LiveServer) -> None:
    sandbox = SandboxClient(limited_server.base_url, limited_server.sandbox_key)
    sandbox.reset()
    with httpx.Client(base_url=limited_server.base_url, timeout=30) as client:
        world = World(limited_server, sandbox, client)
        setup = ready(world)
        assert world.fastregister(setup.token, world.ticket(setup.component, setup.oa))["errcode"] == 0
        assert_refused(world, setup, world.ticket(setup.component, setup.oa), 61053)
        # Another OA of the same principal is refused too.
        sibling = world.oa(principal_name=setup.oa.principal_name)
        sibling_setup = Setup(world, setup.component, sibling, world.authorize(setup.component, sibling))
        assert_refused(world, sibling_setup, world.ticket(setup.component, sibling), 61053)
    sandbox.close()
