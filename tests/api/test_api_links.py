"""wxamplinkget / wxamplink / wxampunlink over real HTTP: the two admin confirmations and their statuses
(12 → 2 → 1, or 3), the items in WeChat's shape, the 0/1 flags in every form the SDKs send, the 13-a-month
limit that fast-registered MPs do not use, unlinking once the OA admin agrees, WeChat's link errcodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastreg.settings import Settings
from fastreg.testing import LiveServer, SandboxClient, run_live_server
from tests.api.world import OA, Component, World


def new_mp(world: World, component: Component, oa: OA, token: str, copy_wx_verify: int = 1) -> str:
    answer = world.fastregister(token, world.ticket(component, oa, copy_wx_verify=copy_wx_verify))
    assert answer["errcode"] == 0, answer
    return str(answer["appid"])


def items(world: World, token: str) -> dict[str, dict[str, Any]]:
    answer = world.post("/cgi-bin/wxopen/wxamplinkget", {}, access_token=token)
    assert answer["errcode"] == 0
    return {item["appid"]: item for item in answer["wxopens"]["items"]}


def linked_via(world: World, oa: OA, mp_appid: str) -> str:
    """How the MP was linked, from the sandbox's OA view (wxamplinkget has no such key)."""
    (link,) = [i for i in world.oa_state(oa)["linked_mini_programs"] if i["appid"] == mp_appid]
    return str(link["linked_via"])


def answer_pending(world: World, wxid: str, kind: str, action: str = "confirm") -> None:
    pending = [c for c in world.sandbox.confirmations(wxid) if c["kind"] == kind]
    assert len(pending) == 1, pending
    result = world.sandbox._call("POST", f"/confirmations/{pending[0]['id']}", json={"wxid": wxid, "action": action})
    assert result["status"] == ("confirmed" if action == "confirm" else "cancelled")


def refusal(answer: dict[str, Any], errcode: int, errmsg: str) -> None:
    assert answer["errcode"] == errcode, answer
    assert answer["errmsg"].startswith(errmsg), answer


@pytest.fixture
def two_oas(world: World) -> tuple[Component, OA, str, OA, str]:
    component = world.component()
    owner, linker = world.oa(), world.oa()
    return component, owner, world.authorize(component, owner), linker, world.authorize(component, linker)


def test_ordinary_link_needs_both_admins(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    assert linked_via(world, owner, mp) == "fast_register"
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
    assert item["status"] == 1 and item["selected"] == 1 and linked_via(world, linker, mp) == "link"
    assert item["username"].startswith("gh_")


def test_mp_admin_refusal_gives_status_3(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    world.post("/cgi-bin/wxopen/wxamplink", {"appid": mp}, access_token=linker_token)
    answer_pending(world, linker.admin_wxid, "link_oa_admin")
    answer_pending(world, owner.admin_wxid, "link_mp_admin", action="cancel")
    assert items(world, linker_token)[mp]["status"] == 3


def test_unknown_mini_program_is_40013(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    _, _, owner_token, _, _ = two_oas
    unknown = {"appid": "wx0000000000000000"}
    assert world.post("/cgi-bin/wxopen/wxamplink", unknown, access_token=owner_token)["errcode"] == 40013
    assert world.post("/cgi-bin/wxopen/wxampunlink", unknown, access_token=owner_token)["errcode"] == 40013


# ---------------------------------------------------------------- items (fidelity §2 row 10)

ITEM_KEYS = {
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


def test_items_have_wechats_keys_and_no_others(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, _linker, linker_token = two_oas
    certified, plain = new_mp(world, component, owner, owner_token), new_mp(world, component, owner, owner_token, 0)
    listed = items(world, owner_token)
    for appid in (certified, plain):
        item = listed[appid]
        assert set(item) == ITEM_KEYS, item
        assert item["func_infos"] == item["func_info"]  # WxJava reads the old name
        assert item["source"] == "SOURCE_NORMAL" and item["status"] == 1
        assert (item["nearby_display_status"], item["released"], item["headimg_url"]) == (0, 0, "")
    assert listed[certified]["func_infos"] == [
        {"status": 1, "id": 1, "name": "微信认证"},
        {"status": 0, "id": 2, "name": "微信支付"},
    ]
    assert listed[certified]["copy_verify_status"] == 1
    assert listed[plain]["func_infos"][0] == {"status": 0, "id": 1, "name": "微信认证"}
    assert listed[plain]["copy_verify_status"] == 0
    # A pending ordinary link is listed with the same keys.
    assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": plain}, access_token=linker_token)["errcode"] == 0
    assert set(items(world, linker_token)[plain]) == ITEM_KEYS


# ---------------------------------------------------------------- flags (row 11)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [(1, True), ("1", True), (True, True), (0, False), ("0", False), ("", False), (False, False)],
    ids=["1", "'1'", "true", "0", "'0'", "''", "false"],
)
def test_link_flags_in_every_form_the_sdks_send(
    world: World, two_oas: tuple[Component, OA, str, OA, str], sent: Any, expected: bool
) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    body = {"appid": mp, "notify_users": sent, "show_profile": sent}
    assert world.post("/cgi-bin/wxopen/wxamplink", body, access_token=linker_token) == {"errcode": 0, "errmsg": "ok"}
    assert items(world, linker_token)[mp]["selected"] == int(expected)
    (link,) = [i for i in world.oa_state(linker)["linked_mini_programs"] if i["appid"] == mp]
    assert (link["notify_users"], link["show_profile"]) == (expected, expected)


def test_link_flags_out_of_range_or_of_another_type(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, _linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    for sent, errcode in ((2, 40097), ("2", 40097), ("yes", 47001), ([1], 47001), (None, 47001)):
        answer = world.post("/cgi-bin/wxopen/wxamplink", {"appid": mp, "show_profile": sent}, access_token=linker_token)
        assert answer["errcode"] == errcode, (sent, answer)
    assert mp not in items(world, linker_token)


# ---------------------------------------------------------------- errcodes (row 12)


def test_link_requests_while_waiting_and_once_linked(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    link = {"appid": mp, "notify_users": 0, "show_profile": 1}
    assert world.post("/cgi-bin/wxopen/wxamplink", link, access_token=linker_token)["errcode"] == 0
    # Waiting for the OA admin, then for the MP admin: the link message has been sent.
    refusal(world.post("/cgi-bin/wxopen/wxamplink", link, access_token=linker_token), 89010, "link message has sent")
    answer_pending(world, linker.admin_wxid, "link_oa_admin")
    refusal(world.post("/cgi-bin/wxopen/wxamplink", link, access_token=linker_token), 89010, "link message has sent")
    answer_pending(world, owner.admin_wxid, "link_mp_admin")
    refusal(world.post("/cgi-bin/wxopen/wxamplink", link, access_token=linker_token), 89015, "has linked wxa")
    # The MP is linked to its own OA since the fast registration.
    refusal(world.post("/cgi-bin/wxopen/wxamplink", link, access_token=owner_token), 89015, "has linked wxa")


def test_an_unanswered_link_request_goes_stale(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": mp}, access_token=linker_token)["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=601)  # the OA admin's confirmation expired unanswered
    linker_token = world.authorize(component, linker)
    assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": mp}, access_token=linker_token)["errcode"] == 0
    answer_pending(world, linker.admin_wxid, "link_oa_admin")
    assert items(world, linker_token)[mp]["status"] == 2


# ---------------------------------------------------------------- unlinking (row 13)


def test_unlink_waits_for_the_oa_admin_and_keeps_the_mp(
    world: World, two_oas: tuple[Component, OA, str, OA, str]
) -> None:
    component, owner, owner_token, _linker, linker_token = two_oas
    mp = new_mp(world, component, owner, owner_token)
    unlink = {"appid": mp}
    # Another OA cannot unlink what is not linked to it.
    assert world.post("/cgi-bin/wxopen/wxampunlink", unlink, access_token=linker_token)["errcode"] == 40097
    assert world.sandbox.confirmations(owner.admin_wxid) == []

    assert world.post("/cgi-bin/wxopen/wxampunlink", unlink, access_token=owner_token) == {"errcode": 0, "errmsg": "ok"}
    # The link stays until the OA admin agrees; asking again meanwhile is refused.
    assert items(world, owner_token)[mp]["status"] == 1
    refusal(
        world.post("/cgi-bin/wxopen/wxampunlink", unlink, access_token=owner_token), 89018, "unlink message has sent"
    )
    (pending,) = world.sandbox.confirmations(owner.admin_wxid)
    assert pending["kind"] == "unlink_oa_admin" and pending["account_appid"] == owner.appid
    # What the admin's phone shows.
    phone = world.api.get(pending["url"], params={"wxid": owner.admin_wxid})
    assert phone.status_code == 200 and "公众号解除关联小程序" in phone.text and "请求解除与小程序" in phone.text

    # The admin refuses: the link stays, and a new request may be made.
    answer_pending(world, owner.admin_wxid, "unlink_oa_admin", action="cancel")
    assert items(world, owner_token)[mp]["status"] == 1
    assert world.post("/cgi-bin/wxopen/wxampunlink", unlink, access_token=owner_token)["errcode"] == 0

    # The admin agrees: the link goes, the MP stays.
    answer_pending(world, owner.admin_wxid, "unlink_oa_admin")
    assert mp not in items(world, owner_token)
    assert world.sandbox.mini_program(mp)["appid"] == mp
    assert world.post("/cgi-bin/wxopen/wxampunlink", unlink, access_token=owner_token)["errcode"] == 40097
    kinds = [event["kind"] for event in world.sandbox.audit(mp)]
    assert "unlink_requested" in kinds and kinds[-1] == "unlinked"


def test_an_unanswered_unlink_request_goes_stale(world: World, two_oas: tuple[Component, OA, str, OA, str]) -> None:
    component, owner, owner_token, _, _ = two_oas
    mp = new_mp(world, component, owner, owner_token)
    assert world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mp}, access_token=owner_token)["errcode"] == 0
    world.sandbox.set_clock(advance_seconds=601)
    owner_token = world.authorize(component, owner)
    assert world.post("/cgi-bin/wxopen/wxampunlink", {"appid": mp}, access_token=owner_token)["errcode"] == 0
    assert items(world, owner_token)[mp]["status"] == 1


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
        refusal(refused, 89009, "wxa reach link limit")
        assert second not in items(world, linker_token)
        # A new month (Asia/Shanghai) allows a new link.
        sandbox.set_clock(now="2026-12-31T16:00:00Z")
        component.verify_ticket = sandbox.issue_verify_ticket(component.appid)  # the first one expired (12 h)
        component.access_token = world.component_token(component)
        linker_token = world.authorize(component, linker)
        assert world.post("/cgi-bin/wxopen/wxamplink", {"appid": second}, access_token=linker_token)["errcode"] == 0
    sandbox.close()
