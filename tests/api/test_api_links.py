"""wxamplinkget / wxamplink / wxampunlink over real HTTP: the two admin confirmations and their statuses
(12 → 2 → 1, or 3), the 13-a-month limit that fast-registered MPs do not use, unlinking, the link errcodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.api.world import OA, Component, World


def new_mp(world: World, component: Component, oa: OA, token: str) -> str:
    answer = world.fastregister(token, world.ticket(component, oa))
    assert answer["errcode"] == 0, answer
    return str(answer["appid"])


def items(world: World, token: str) -> dict[str, dict[str, Any]]:
    answer = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)
    assert answer["errcode"] == 0
    return {item["appid"]: item for item in answer["wxopens"]["items"]}


def answer_pending(world: World, wxid: str, kind: str, action: str = "confirm") -> None:
    pending = [c for c in world.sandbox.confirmations(wxid) if c["kind"] == kind]
    assert len(pending) == 1, pending
    result = world.sandbox._call("POST", f"/confirmations/{pending[0]['id']}", json={"wxid": wxid, "action": action})
    assert result["status"] == ("confirmed" if action == "confirm" else "cancelled")


@pytest.fixture
def two_oas(world: World) -> tuple[Component, OA, str, OA, str]:
    component = world.component()
    owner, linker = world.oa(), world.oa()
    return component, owner, world.authorize(component, owner), linker, world.authorize(component, linker)


def test_ordinary_link_needs_both_admins(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    assert items(world, owner_token)[mp]["linked_via"] == "fast_register"
    assert world.oa_state(owner)["links_this_month"] == 0

    body = {"appid": mp, "notify_users": 1, "show_profile": 1}
    assert world.post("/cgi-bin/wxopen/wxamplink", body, access_token=linker_token) == {"errcode": 0, "errmsg": "ok"}
    assert items(world, linker_token)[mp]["status"] == 12
    answer_pending(world, linker.admin_wxid, "link_oa_admin")
    assert items(world, linker_token)[mp]["status"] == 2
    assert world.oa_state(linker)["links_this_month"] == 1
    # The MP's admin is the owner OA's admin (the fast registration bound it).
    answer_pending(world, owner.admin_wxid, "link_mp_admin")
    item = items(world, linker_token)[mp]
    assert item["status"] == 1 and item["selected"] == 1 and item["linked_via"] == "link"
    assert item["username"].startswith("gh_")

    assert world.post("/cgi-bin/wxopen/wxamplink", body, access_token=linker_token)["errcode"] == 89010


def test_mp_admin_refusal_gives_status_3(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    world.post("/cgi-bin/wxopen/wxamplink", {"appid": mp}, access_token=linker_token)
    answer_pending(world, linker.admin_wxid, "link_oa_admin")
    answer_pending(world, owner.admin_wxid, "link_mp_admin", action="cancel")
    assert items(world, linker_token)[mp]["status"] == 3


def test_unlink_keeps_the_mp(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, _linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    # Another OA cannot unlink what is not linked to it.
    assert world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mp}, access_token=linker_token) == {
        "errcode": 89014,
        "errmsg": "wxopen not linked",
    }
    assert mp in items(world, owner_token)
    assert world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mp}, access_token=owner_token)["errcode"] == 0
    assert mp not in items(world, owner_token)
    assert world.sandbox.mini_program(mp)["appid"] == mp
    assert world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mp}, access_token=owner_token)["errcode"] == 89014


def test_unknown_mini_program(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    _, _, owner_token, _, _ = two_oas
    unknown = {"appid": "wx0000000000000000"}
    assert world.post("/cgi-bin/wxopen/wxamplink", unknown, access_token=owner_token) == {
        "errcode": 89012,
        "errmsg": "invalid wxopen appid",
    }
    assert world.post("/cgi-bin/wxopen/wxampunlink", unknown, access_token=owner_token)["errcode"] == 89012


def test_link_apis_need_an_official_account_token(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, _, _ = two_oas
    answer = world.fastregister(owner_token, world.ticket(component, owner))
    mp_token = world.query_auth(component, answer["authorization_code"])["authorizer_access_token"]
    assert world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=mp_token)["errcode"] == 48001


@pytest.fixture(scope="module")
def one_link_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("fastreg-links")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'fastreg.db'}",
        data_dir=data_dir,
        sandbox_key="links-key",
        link_monthly_limit=1,
    )
    live, stop = run_live_server(settings)
    yield live
    stop()


def test_monthly_link_limit_and_fast_registration_exemption(one_link_server: LiveServer) -> None:
    sandbox = SandboxClient(one_link_server.base_url, one_link_server.sandbox_key)
    sandbox.reset()
    with httpx.Client(base_url=one_link_server.base_url, timeout=30) as client:
        world = World(one_link_server, sandbox, client)
        component = world.component()
        owner, linker = world.oa(), world.oa()
        owner_token, linker_token = world.authorize(component, owner), world.authorize(component, linker)
        first, second = new_mp(world, component, owner, owner_token), new_mp(world, component, owner, owner_token)
        # The linker's own fast registrations use none of its one link a month.
        new_mp(world, component, linker, linker_token)
        assert world.oa_state(linker)["links_this_month"] == 0
        assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": first}, access_token=linker_token)["errcode"] == 0
        answer_pending(world, linker.admin_wxid, "link_oa_admin")
        refused = world.post("/cgi-bin/wxopen/wxamplink", {"appid": second}, access_token=linker_token)
        assert refused == {"errcode": 89015, "errmsg": "has linked 13 wxopen this month"}
        assert second not in items(world, linker_token)
        # A new month (Asia/Shanghai) allows a new link.
        sandbox.set_clock(now="2026-12-31T16:00:00Z")
        component.verify_ticket = sandbox.issue_verify_ticket(component.appid)  # the first one expired (12 h)
        component.access_token = world.component_token(component)
        linker_token = world.authorize(component, linker)
        assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": second}, access_token=linker_token)["errcode"] == 0
    sandbox.close()
