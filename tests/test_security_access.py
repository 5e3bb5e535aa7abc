"""No account can read or change another's data, over real HTTP on SQLite and PostgreSQL: an OA's token on
another OA's resources, a component's token on an OA authorized to another component, an operator's console
session on another OA's pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from fastreg.testing import LiveServer, SandboxClient
from tests.api.world import OA, Component, World

PASSWORD = "Operator2026"


@dataclass
class Registered:
    component: Component
    oa: OA
    token: str  # the component's authorizer token for the OA
    mp_appid: str


def register_one(world: World, component: Component, oa: OA) -> Registered:
    token = world.authorize(component, oa)
    answer = world.fastregister(token, world.ticket(component, oa))
    assert answer["errcode"] == 0, answer
    return Registered(component, oa, token, answer["appid"])


def linked_appids(world: World, token: str) -> list[str]:
    answer = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)
    assert answer["errcode"] == 0, answer
    return [item["appid"] for item in answer["wxopens"]["items"]]


# ---------------------------------------------------------------- an OA's token on another OA's resources


def test_an_oas_token_cannot_spend_another_oas_ticket(world: World) -> None:
    component = world.component()
    a, b = world.oa(), world.oa()
    token_a, token_b = world.authorize(component, a), world.authorize(component, b)
    ticket_b = world.ticket(component, b)
    refused = world.fastregister(token_a, ticket_b)
    assert refused["errcode"] == 61058
    assert world.oa_state(a)["quota"]["used"] == 0
    # The ticket is still usable by its rightful caller.
    answer = world.fastregister(token_b, ticket_b)
    assert answer["errcode"] == 0
    assert answer["appid"] in linked_appids(world, token_b)
    assert answer["appid"] not in linked_appids(world, token_a)


def test_an_oas_token_neither_lists_nor_unlinks_another_oas_mini_programs(world: World) -> None:
    component = world.component()
    mine = register_one(world, component, world.oa())
    other = world.oa()
    other_token = world.authorize(component, other)
    assert linked_appids(world, other_token) == []
    unlink = world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mine.mp_appid}, access_token=other_token)
    assert unlink["errcode"] != 0
    world.post(
        "/cgi-bin/wxopen/wxamplink",
        {"appid": mine.mp_appid, "notify_users": 0, "show_profile": 1},
        access_token=other_token,
    )
    # Asking to link someone else's MP only starts a request its admins must confirm; nothing is linked now.
    assert mine.mp_appid not in [
        item["appid"]
        for item in world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=other_token)["wxopens"]["items"]
        if item["status"] == 1
    ]
    assert mine.mp_appid in linked_appids(world, mine.token)


def test_an_mps_token_reads_only_its_own_basic_info(world: World) -> None:
    component = world.component()
    first = register_one(world, component, world.oa())
    second = register_one(world, component, world.oa())
    for registered in (first, second):
        code = world.sandbox.authorize(component.appid, registered.mp_appid)["authorization_code"]
        mp_token = world.query_auth(component, code)["authorizer_access_token"]
        info = world.get("/cgi-bin/account/getaccountbasicinfo", access_token=mp_token)
        assert info["errcode"] == 0 and info["appid"] == registered.mp_appid


# ---------------------------------------------------------------- a component's token on another's OA


def test_a_component_cannot_act_for_an_oa_authorized_to_another_component(world: World) -> None:
    owner, stranger = world.component(), world.component()
    oa = world.oa()
    code = world.sandbox.authorize(owner.appid, oa.appid)["authorization_code"]
    # The stranger cannot exchange the owner's authorization code ...
    exchanged = world.post(
        "/cgi-bin/component/api_query_auth",
        {"component_appid": stranger.appid, "authorization_code": code},
        component_access_token=stranger.access_token,
    )
    assert exchanged["errcode"] != 0 and "authorization_info" not in exchanged
    info = world.query_auth(owner, code)  # the code is still good for its owner
    # ... nor read the OA's authorization, nor refresh its token with the owner's refresh token.
    read = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": stranger.appid, "authorizer_appid": oa.appid},
        component_access_token=stranger.access_token,
    )
    assert read["errcode"] != 0 and "authorization_info" not in read
    refreshed = world.post(
        "/cgi-bin/component/api_authorizer_token",
        {
            "component_appid": stranger.appid,
            "authorizer_appid": oa.appid,
            "authorizer_refresh_token": info["authorizer_refresh_token"],
        },
        component_access_token=stranger.access_token,
    )
    assert refreshed["errcode"] != 0 and "authorizer_access_token" not in refreshed
    # Its own token with the owner's component_appid is refused too (40013).
    spoofed = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": owner.appid, "authorizer_appid": oa.appid},
        component_access_token=stranger.access_token,
    )
    assert spoofed["errcode"] == 40013
    # The owner still can.
    own = world.post(
        "/cgi-bin/component/api_get_authorizer_info",
        {"component_appid": owner.appid, "authorizer_appid": oa.appid},
        component_access_token=owner.access_token,
    )
    assert own["errcode"] == 0


def test_a_component_cannot_spend_a_ticket_issued_to_another_component(world: World) -> None:
    first, second = world.component(), world.component()
    oa = world.oa()
    token_second = world.authorize(second, oa)
    token_first = world.authorize(first, oa)  # the fast-registration permission set moves to `first`
    ticket = world.ticket(first, oa)
    refused = world.fastregister(token_second, ticket)
    assert refused["errcode"] in (61058, 48001)
    assert linked_appids(world, token_first) == []
    answer = world.fastregister(token_first, ticket)
    assert answer["errcode"] == 0


def test_a_component_token_is_not_an_account_token(world: World) -> None:
    component = world.component()
    oa = world.oa()
    world.authorize(component, oa)
    listed = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=component.access_token)
    assert listed["errcode"] == 40001
    registered = world.fastregister(component.access_token, world.ticket(component, oa))
    assert registered["errcode"] == 40001


# ---------------------------------------------------------------- an operator's session on another OA's pages


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def console(live: LiveServer, sandbox: SandboxClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, follow_redirects=False, timeout=30) as client:
        yield client


def operator_oa(sandbox: SandboxClient, tag: str) -> tuple[str, str, str]:
    created = sandbox.create_official_account(
        name=f"控制台公众号{tag}",
        principal_name=f"控制台企业{tag}有限公司",
        principal_type="enterprise",
        operator_email=f"operator-{tag.lower()}@example.com",
        operator_password=PASSWORD,
    )
    return created["appid"], created["admin_wxid"], created["operator_email"]


def registration_of(world: World, mp_appid: str) -> int:
    """The id of the completed registration that created the MP (read from the server's database)."""
    from sqlalchemy import select

    from fastreg.adapters.db.models import MiniProgram, Registration

    with world.live.platform.uow(readonly=True) as uow:
        return int(
            uow.session.execute(
                select(Registration.id)
                .join(MiniProgram, MiniProgram.id == Registration.mp_id)
                .where(MiniProgram.appid == mp_appid)
            ).scalar_one()
        )


def log_in(client: httpx.Client, email: str) -> None:
    page = client.get("/login")
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text


def test_an_operator_cannot_reach_another_oas_pages(
    world: World, console: httpx.Client, sandbox: SandboxClient
) -> None:
    appid_a, admin_a, _ = operator_oa(sandbox, "A")
    _, _, email_b = operator_oa(sandbox, "B")
    a = OA(appid_a, "", admin_a, "控制台企业A有限公司")
    component = world.component()
    mine = register_one(world, component, a)
    registration_id = registration_of(world, mine.mp_appid)

    log_in(console, email_b)
    listing = console.get("/oa/miniprograms")
    assert listing.status_code == 200 and mine.mp_appid not in listing.text
    # B's session on A's registration outcome: back to B's own wizard, nothing of A's shown.
    done = console.get(f"/oa/fastreg/done/{registration_id}")
    assert done.status_code in (302, 303) and done.headers["location"].endswith("/oa/fastreg")
    # B's session changing the profile display of A's MP: refused, A's link unchanged.
    csrf = csrf_of(listing.text)
    toggled = console.post(f"/oa/miniprograms/{mine.mp_appid}/profile", data={"csrf_token": csrf, "show": "1"})
    assert (toggled.status_code, toggled.headers["location"]) == (303, "/oa/miniprograms")
    refused = console.get("/oa/miniprograms")  # the refusal is shown on the page the form came from
    assert 'id="page-error"' in refused.text and mine.mp_appid not in refused.text
    items = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=mine.token)["wxopens"]["items"]
    assert [item["selected"] for item in items if item["appid"] == mine.mp_appid] == [0]
    # A's pending link confirmation is not B's to see.
    world.post(
        "/cgi-bin/wxopen/wxamplink",
        {"appid": register_one(world, component, world.oa()).mp_appid, "notify_users": 0, "show_profile": 0},
        access_token=mine.token,
    )
    pending = [c for c in sandbox.confirmations(admin_a) if c["account_appid"] == appid_a]
    assert pending
    for confirmation in pending:
        page = console.get(f"/oa/miniprograms/link/{confirmation['id']}")
        assert page.status_code in (302, 303) and page.headers["location"].endswith("/oa/miniprograms")
        status = console.get(f"/oa/miniprograms/link/{confirmation['id']}/status")
        assert status.json() == {"state": "gone"}
