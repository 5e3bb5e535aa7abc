"""The sandbox control API (/sandbox/v1) over real HTTP against a live server (SQLite): every route, its
fields and status codes, the key check, the error shape, and the effects on the accounts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import Component, PersonalWechatEmail, PushJob
from fastreg.services import credentials, fastregister
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.testing import LiveServer, SandboxClient

KEY = "fastreg-test-key"


@pytest.fixture
def api(fastreg_server: LiveServer, fastreg_sandbox: SandboxClient) -> Iterator[httpx.Client]:
    """An HTTP client with the sandbox key, on a freshly reset sandbox."""
    with httpx.Client(base_url=fastreg_server.base_url + "/sandbox/v1", headers={"X-Sandbox-Key": KEY}) as client:
        yield client


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def new_oa(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"name": "示例公众号", "principal_name": "示例有限公司", "principal_type": "enterprise", **fields}
    return ok(api.post("/official-accounts", json=body), 201)


def new_component(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return ok(api.post("/components", json={"name": "测试平台", "redirect_domain": "example.com", **fields}), 201)


def fast_register(server: LiveServer, api: httpx.Client, oa: dict[str, Any], component: dict[str, Any]) -> str:
    """A whole Open API fast registration: the OA authorizes the component (sandbox shortcut), the auth page's
    confirmation is answered through /scans, then the ticket registers the MP."""
    platform = server.platform
    ok(api.post(f"/components/{component['component_appid']}/authorizations", json={"authorizer_appid": oa["appid"]}))
    view = fastregister.open_auth_page(
        platform, oa["appid"], component["component_appid"], True, "https://example.com/done?state=1"
    )
    answered = ok(api.post("/scans", json={"url": view.url, "wxid": oa["admin_wxid"], "action": "confirm"}))
    ticket = parse_qs(urlparse(answered["redirect_url"]).query)["ticket"][0]
    with platform.uow(readonly=True) as uow:
        component_id = uow.session.execute(
            select(Component.id).where(Component.appid == component["component_appid"])
        ).scalar_one()
    return fastregister.fastregister(platform, oa["appid"], component_id, ticket).appid


# ---------------------------------------------------------------- the key and the error shape

ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/reset", None),
    ("GET", "/clock", None),
    ("PUT", "/clock", {"advance_seconds": 1}),
    ("POST", "/official-accounts", {"name": "a", "principal_name": "b", "principal_type": "enterprise"}),
    ("GET", "/official-accounts/wx0000000000000000", None),
    ("PATCH", "/principals/someone", {"blacklisted": True}),
    ("POST", "/components", {"name": "c", "redirect_domain": "example.com"}),
    ("POST", "/components/wx0000000000000000/verify-ticket", None),
    ("POST", "/components/wx0000000000000000/authorizations", {"authorizer_appid": "wx1"}),
    ("GET", "/confirmations?wxid=someone", None),
    ("POST", "/confirmations/abc", {"wxid": "someone", "action": "confirm"}),
    ("POST", "/scans", {"url": "http://x/m/confirm/abc", "wxid": "someone", "action": "confirm"}),
    ("GET", "/mail", None),
    ("POST", "/personal-wechat-emails", {"email": "a@example.com"}),
    ("GET", "/mini-programs/wx0000000000000000", None),
    ("GET", "/audit", None),
    ("POST", "/faults", {"path": "/cgi-bin/token", "errcode": -1}),
    ("GET", "/faults", None),
    ("DELETE", "/faults", None),
    ("DELETE", "/faults/0123456789abcdef", None),
]


@pytest.mark.parametrize(
    "headers", [{}, {"X-Sandbox-Key": "wrong"}, {"X-Sandbox-Key": ""}], ids=["none", "wrong", "empty"]
)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_needs_the_key(
    fastreg_server: LiveServer, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    response = httpx.request(method, fastreg_server.base_url + "/sandbox/v1" + path, json=body, headers=headers)
    error(response, 401, "unauthorized")


def test_key_is_checked_before_the_body(fastreg_server: LiveServer) -> None:
    response = httpx.post(fastreg_server.base_url + "/sandbox/v1/official-accounts", content=b"{not json")
    error(response, 401, "unauthorized")


def test_validation_errors_use_the_sandbox_error_shape(api: httpx.Client) -> None:
    error(
        api.post("/official-accounts", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "invalid_json",
    )
    message = error(api.post("/official-accounts", json={"name": "a"}), 422, "invalid_request")["message"]
    assert "principal_name" in message and "principal_type" in message
    error(api.post("/official-accounts", json={"name": "a", "principal_name": "b", "principal_type": "alien"}), 422)
    error(
        api.post(
            "/official-accounts",
            json={"name": "a", "principal_name": "b", "principal_type": "enterprise", "surprise": 1},
        ),
        422,
    )
    error(api.get("/confirmations"), 422, "invalid_request")  # wxid is required
    error(api.patch("/principals/x", json={"blacklisted": "perhaps"}), 422)


def test_unknown_sandbox_route_is_a_json_404(api: httpx.Client) -> None:
    error(api.get("/no-such-thing"), 404, "not_found")


def test_body_without_content_type_is_accepted(api: httpx.Client) -> None:
    """Like WeChat's own clients, a JSON body without a Content-Type header is read as JSON."""
    response = api.put("/clock", content=b'{"now": "2026-11-10T04:00:00Z"}')
    assert ok(response)["now"] == "2026-11-10T04:00:00Z"


# ---------------------------------------------------------------- reset


def test_reset_wipes_everything_but_keeps_the_key(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa = new_oa(api)
    component = new_component(api)
    ok(api.post("/personal-wechat-emails", json={"email": "kept@example.com"}), 201)
    ok(api.put("/clock", json={"now": "2027-01-01T00:00:00Z"}))
    assert fastreg_server.platform.mailer is not None
    fastreg_server.platform.mailer.send("someone@example.com", "s", "t", "")
    ok(api.post(f"/components/{component['component_appid']}/authorizations", json={"authorizer_appid": oa["appid"]}))
    assert ok(api.get("/mail")) and ok(api.get("/audit"))

    answer = ok(api.post("/reset"))
    assert answer["status"] == "ok"

    error(api.get(f"/official-accounts/{oa['appid']}"), 404, "not_found")
    error(api.post(f"/components/{component['component_appid']}/verify-ticket"), 404, "not_found")
    assert ok(api.get("/mail")) == []
    assert ok(api.get("/audit")) == []
    assert ok(api.get("/clock"))["frozen"] is False
    with fastreg_server.platform.uow(readonly=True) as uow:
        assert uow.session.execute(select(PersonalWechatEmail)).first() is None
    # The same key still works, and the emails/identifiers are free again.
    again = new_oa(api, operator_email=oa["operator_email"])
    assert again["operator_email"] == oa["operator_email"]


def test_reset_is_fast_on_sqlite(api: httpx.Client) -> None:
    for n in range(5):
        new_oa(api, name=f"号{n}", principal_name=f"主体{n}")
    timings = [ok(api.post("/reset"))["elapsed_ms"] for _ in range(5)]
    assert min(timings) < 5, timings


# ---------------------------------------------------------------- clock


def test_clock_freeze_advance_and_real(api: httpx.Client) -> None:
    current = ok(api.get("/clock"))
    assert current["frozen"] is False
    real = datetime.fromisoformat(current["now"].replace("Z", "+00:00"))
    assert abs(real - datetime.now(UTC)) < timedelta(minutes=1)
    assert current["now"].endswith("Z")

    assert ok(api.put("/clock", json={"now": "2026-11-30T16:00:00Z"})) == {
        "now": "2026-11-30T16:00:00Z",
        "frozen": True,
    }
    assert ok(api.get("/clock")) == {"now": "2026-11-30T16:00:00Z", "frozen": True}
    assert ok(api.put("/clock", json={"advance_seconds": 3600}))["now"] == "2026-11-30T17:00:00Z"
    assert ok(api.put("/clock", json={"now": "2026-12-01T08:00:00+08:00"}))["now"] == "2026-12-01T00:00:00Z"

    back = ok(api.put("/clock", json={"real": True}))
    assert back["frozen"] is False
    assert abs(datetime.fromisoformat(back["now"].replace("Z", "+00:00")) - datetime.now(UTC)) < timedelta(minutes=1)

    moved = ok(api.put("/clock", json={"advance_seconds": 86400}))
    assert moved["frozen"] is False
    ahead = datetime.fromisoformat(moved["now"].replace("Z", "+00:00")) - datetime.now(UTC)
    assert timedelta(hours=23) < ahead < timedelta(hours=25)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"now": "2026-11-30T16:00:00Z", "real": True},
        {"real": False},
        {"now": "not a date"},
        {"now": "2026-11-30T16:00:00"},
        {"advance_seconds": "soon"},
    ],
)
def test_clock_refuses_bad_bodies(api: httpx.Client, body: dict[str, Any]) -> None:
    error(api.put("/clock", json=body), 422, "invalid_request")


def test_quota_month_follows_the_clock_in_shanghai_time(api: httpx.Client) -> None:
    oa = new_oa(api)
    ok(api.put("/clock", json={"now": "2026-11-30T15:59:59Z"}))
    assert ok(api.get(f"/official-accounts/{oa['appid']}"))["quota"]["month"] == "2026-11"
    ok(api.put("/clock", json={"advance_seconds": 1}))
    assert ok(api.get(f"/official-accounts/{oa['appid']}"))["quota"]["month"] == "2026-12"


# ---------------------------------------------------------------- official accounts and principals


def test_create_official_account_generates_what_is_not_given(api: httpx.Client) -> None:
    oa = new_oa(api)
    assert set(oa) == {"appid", "secret", "original_id", "admin_wxid", "operator_email", "operator_password"}
    assert oa["appid"].startswith("wx") and len(oa["appid"]) == 18
    assert oa["original_id"].startswith("gh_") and len(oa["original_id"]) == 15
    assert len(oa["secret"]) == 32
    assert oa["admin_wxid"] and "@" in oa["operator_email"] and len(oa["operator_password"]) >= 8


def test_create_official_account_keeps_what_is_given(api: httpx.Client) -> None:
    oa = new_oa(
        api,
        name="老街小吃",
        principal_name="老街小吃店",
        principal_type="individual_business",
        admin_wxid="wxid_shop_owner",
        operator_email="Shop@Example.com",
        operator_password="secret123",
    )
    assert oa["admin_wxid"] == "wxid_shop_owner"
    assert oa["operator_email"] == "shop@example.com"
    assert oa["operator_password"] == "secret123"
    overview = ok(api.get(f"/official-accounts/{oa['appid']}"))
    assert overview["name"] == "老街小吃"
    assert overview["principal"] == {
        "name": "老街小吃店",
        "type": "individual_business",
        "blacklisted": False,
        "mini_program_count": 0,
    }
    assert overview["quota"]["limit"] == 1


def test_create_official_account_refusals(api: httpx.Client) -> None:
    first = new_oa(api, operator_email="taken@example.com")
    error(
        api.post(
            "/official-accounts",
            json={
                "name": "b",
                "principal_name": "示例有限公司",
                "principal_type": "enterprise",
                "operator_email": "TAKEN@example.com",
            },
        ),
        409,
        "email_taken",
    )
    error(
        api.post(
            "/official-accounts", json={"name": "b", "principal_name": "示例有限公司", "principal_type": "personal"}
        ),
        409,
        "principal_type_conflict",
    )
    error(
        api.post(
            "/official-accounts",
            json={"name": "b", "principal_name": "x", "principal_type": "enterprise", "operator_password": "short"},
        ),
        422,
        "weak_password",
    )
    error(
        api.post(
            "/official-accounts",
            json={"name": "b", "principal_name": "x", "principal_type": "enterprise", "operator_email": "not-an-email"},
        ),
        422,
        "invalid_email",
    )
    error(
        api.post(
            "/official-accounts",
            json={"name": "b", "principal_name": "x", "principal_type": "enterprise", "admin_wxid": "坏的"},
        ),
        422,
        "invalid_wxid",
    )
    assert ok(api.get(f"/official-accounts/{first['appid']}"))["appid"] == first["appid"]


def test_official_account_overview_of_a_fresh_account(api: httpx.Client) -> None:
    ok(api.put("/clock", json={"now": "2026-11-10T04:00:00Z"}))
    oa = new_oa(api, verified=False, overseas=True)
    overview = ok(api.get(f"/official-accounts/{oa['appid']}"))
    assert overview["appid"] == oa["appid"]
    assert overview["verified"] is False
    assert overview["overseas"] is True
    assert overview["quota"] == {"month": "2026-11", "limit": 5, "used": 0, "remaining": 5}
    assert overview["pending_registration"] is None
    assert overview["linked_mini_programs"] == []
    assert overview["links_this_month"] == 0
    error(api.get("/official-accounts/wx0000000000000000"), 404, "not_found")


def test_fast_registration_shows_in_quota_links_mini_program_and_audit(
    api: httpx.Client, fastreg_server: LiveServer
) -> None:
    ok(api.put("/clock", json={"now": "2026-11-10T04:00:00Z"}))
    oa = new_oa(api)
    component = new_component(api)
    mp_appid = fast_register(fastreg_server, api, oa, component)

    overview = ok(api.get(f"/official-accounts/{oa['appid']}"))
    assert overview["quota"] == {"month": "2026-11", "limit": 5, "used": 1, "remaining": 4}
    assert overview["principal"]["mini_program_count"] == 1
    assert overview["links_this_month"] == 0  # a fast-registration link does not count toward 13
    [linked] = overview["linked_mini_programs"]
    assert linked["appid"] == mp_appid
    assert linked["linked_via"] == "fast_register"
    assert (linked["show_profile"], linked["notify_users"]) == (False, False)

    mp = ok(api.get(f"/mini-programs/{mp_appid}"))
    assert {k: mp[k] for k in ("appid", "principal_name", "certified", "created_via", "linked_oa")} == {
        "appid": mp_appid,
        "principal_name": "示例有限公司",
        "certified": True,
        "created_via": "open_api",
        "linked_oa": oa["appid"],
    }
    assert set(mp) >= {"certified_until", "show_profile", "notify_users", "admin_wxid", "email", "status"}
    assert mp["certified_until"] is not None
    assert (mp["show_profile"], mp["notify_users"]) == (False, False)
    assert mp["admin_wxid"] == oa["admin_wxid"]
    assert mp["email"] is None  # an Open API MP has no login email
    error(api.get("/mini-programs/wx0000000000000000"), 404, "not_found")

    events = ok(api.get("/audit", params={"appid": mp_appid}))
    assert events and all(mp_appid in (e["oa_appid"], e["mp_appid"]) for e in events)
    assert "completed" in {e["kind"] for e in events}
    every = ok(api.get("/audit"))
    assert {"ticket_issued", "completed"} <= {e["kind"] for e in every}
    assert set(every[0]) == {"id", "at", "kind", "actor", "oa_appid", "mp_appid", "detail"}
    assert [e["id"] for e in every] == sorted(e["id"] for e in every)


def test_individual_business_quota_is_used_up_after_one(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa = new_oa(api, principal_name="个体户", principal_type="individual_business")
    fast_register(fastreg_server, api, oa, new_component(api))
    quota = ok(api.get(f"/official-accounts/{oa['appid']}"))["quota"]
    assert (quota["limit"], quota["used"], quota["remaining"]) == (1, 1, 0)


def test_blacklisting_a_principal(api: httpx.Client) -> None:
    oa = new_oa(api, principal_name="黑名单公司")
    principal = ok(api.patch("/principals/黑名单公司", json={"blacklisted": True}))
    assert principal == {"name": "黑名单公司", "type": "enterprise", "blacklisted": True, "mini_program_count": 0}
    assert ok(api.get(f"/official-accounts/{oa['appid']}"))["principal"]["blacklisted"] is True
    assert ok(api.patch("/principals/黑名单公司", json={"blacklisted": False}))["blacklisted"] is False
    error(api.patch("/principals/nobody", json={"blacklisted": True}), 404, "not_found")


# ---------------------------------------------------------------- components


def test_create_component(api: httpx.Client) -> None:
    component = new_component(api, callback_url="http://127.0.0.1:9/callback", published=False, permission_sets=[1, 25])
    assert set(component) == {
        "component_appid",
        "component_appsecret",
        "token",
        "encoding_aes_key",
        "component_verify_ticket",
    }
    assert component["component_appid"].startswith("wx")
    assert len(component["encoding_aes_key"]) == 43
    assert component["component_verify_ticket"]
    error(api.post("/components", json={"name": "x"}), 422)
    error(api.post("/components", json={"name": "x", "redirect_domain": "https://bad/"}), 422)


def test_verify_ticket_is_fresh_and_pushed(api: httpx.Client, fastreg_server: LiveServer) -> None:
    component = new_component(api, callback_url="http://127.0.0.1:9/callback")
    ticket = ok(api.post(f"/components/{component['component_appid']}/verify-ticket"))["component_verify_ticket"]
    assert ticket and ticket != component["component_verify_ticket"]
    with fastreg_server.platform.uow(readonly=True) as uow:
        row = uow.session.execute(select(Component).where(Component.appid == component["component_appid"])).scalar_one()
        assert row.verify_ticket == ticket
        pushed = uow.session.execute(select(PushJob).where(PushJob.component_id == row.id)).scalars().all()
    assert any(job.payload["message"].get("ComponentVerifyTicket") == ticket for job in pushed)
    error(api.post("/components/wx0000000000000000/verify-ticket"), 404, "not_found")


def test_authorization_shortcut_issues_a_code(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa = new_oa(api)
    component = new_component(api)
    answer = ok(
        api.post(f"/components/{component['component_appid']}/authorizations", json={"authorizer_appid": oa["appid"]})
    )
    assert set(answer) == {"authorization_code", "expires_in"}
    assert answer["expires_in"] == 3600
    with fastreg_server.platform.uow(readonly=True) as uow:
        found = credentials.find(
            uow.credentials, uow.clock.now(), CredentialKind.AUTH_CODE, answer["authorization_code"]
        )
    assert found.status is Lookup.OK and found.credential is not None
    assert found.credential.subject == oa["appid"]
    error(
        api.post(
            f"/components/{component['component_appid']}/authorizations",
            json={"authorizer_appid": "wx0000000000000000"},
        ),
        404,
        "not_found",
    )
    error(api.post("/components/wx0000000000000000/authorizations", json={"authorizer_appid": oa["appid"]}), 404)
    error(api.post(f"/components/{component['component_appid']}/authorizations", json={}), 422)


# ---------------------------------------------------------------- confirmations and scans


def pending_auth(server: LiveServer, api: httpx.Client) -> tuple[dict[str, Any], Any]:
    oa = new_oa(api)
    component = new_component(api)
    view = fastregister.open_auth_page(
        server.platform, oa["appid"], component["component_appid"], False, "https://example.com/cb"
    )
    return oa, view


def test_confirmations_waiting_for_a_person(api: httpx.Client, fastreg_server: LiveServer) -> None:
    ok(api.put("/clock", json={"now": "2026-11-10T04:00:00Z"}))
    oa, view = pending_auth(fastreg_server, api)
    [listed] = ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"], "status": "pending"}))
    assert {k: listed[k] for k in ("id", "kind", "url", "account_appid", "created_at")} == {
        "id": view.id,
        "kind": "fastregister_auth",
        "url": view.url,
        "account_appid": oa["appid"],
        "created_at": "2026-11-10T04:00:00Z",
    }
    assert listed["expires_at"] > listed["created_at"]
    assert ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"]})) == [listed]  # pending by default
    assert ok(api.get("/confirmations", params={"wxid": "wxid_somebody_else"})) == []
    assert ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"], "status": "confirmed"})) == []


def test_confirm_by_id_returns_the_redirect_with_a_ticket(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa, view = pending_auth(fastreg_server, api)
    answer = ok(api.post(f"/confirmations/{view.id}", json={"wxid": oa["admin_wxid"], "action": "confirm"}))
    assert answer["status"] == "confirmed"
    assert answer["redirect_url"].startswith("https://example.com/cb?ticket=")
    assert ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"]})) == []
    [done] = ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"], "status": "confirmed"}))
    assert done["id"] == view.id
    # Answered once: a second answer is a conflict.
    error(api.post(f"/confirmations/{view.id}", json={"wxid": oa["admin_wxid"], "action": "confirm"}), 409)


def test_cancel_gives_no_ticket(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa, view = pending_auth(fastreg_server, api)
    answer = ok(api.post("/scans", json={"url": view.url, "wxid": oa["admin_wxid"], "action": "cancel"}))
    assert answer == {"status": "cancelled", "redirect_url": None}
    error(
        api.post("/scans", json={"url": view.url, "wxid": oa["admin_wxid"], "action": "confirm"}),
        409,
        "confirmation_closed",
    )


def test_someone_else_may_not_answer(api: httpx.Client, fastreg_server: LiveServer) -> None:
    oa, view = pending_auth(fastreg_server, api)
    error(api.post("/scans", json={"url": view.url, "wxid": "wxid_intruder", "action": "confirm"}), 403, "not_allowed")
    error(api.post(f"/confirmations/{view.id}", json={"wxid": "wxid_intruder", "action": "cancel"}), 403, "not_allowed")
    # Nothing changed: still pending, and the admin can still confirm.
    assert [c["id"] for c in ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"]}))] == [view.id]
    assert (
        ok(api.post(f"/confirmations/{view.id}", json={"wxid": oa["admin_wxid"], "action": "confirm"}))["status"]
        == "confirmed"
    )


def test_an_expired_confirmation_is_a_conflict(api: httpx.Client, fastreg_server: LiveServer) -> None:
    ok(api.put("/clock", json={"now": "2026-11-10T04:00:00Z"}))
    oa, view = pending_auth(fastreg_server, api)
    ok(api.put("/clock", json={"advance_seconds": fastreg_server.settings.confirmation_ttl_seconds + 1}))
    assert ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"]})) == []
    [expired] = ok(api.get("/confirmations", params={"wxid": oa["admin_wxid"], "status": "expired"}))
    assert expired["id"] == view.id
    error(
        api.post(f"/confirmations/{view.id}", json={"wxid": oa["admin_wxid"], "action": "confirm"}),
        409,
        "confirmation_closed",
    )


def test_unknown_confirmations_and_bad_answers(api: httpx.Client, fastreg_server: LiveServer) -> None:
    error(api.post("/confirmations/nope", json={"wxid": "wxid_a", "action": "confirm"}), 404, "not_found")
    error(
        api.post("/scans", json={"url": "http://127.0.0.1/m/confirm/nope", "wxid": "wxid_a", "action": "confirm"}),
        404,
        "not_found",
    )
    error(
        api.post("/scans", json={"url": "http://127.0.0.1/elsewhere", "wxid": "wxid_a", "action": "confirm"}),
        404,
        "not_found",
    )
    oa, view = pending_auth(fastreg_server, api)
    error(
        api.post(f"/confirmations/{view.id}", json={"wxid": oa["admin_wxid"], "action": "maybe"}),
        422,
        "invalid_request",
    )
    error(api.post("/scans", json={"wxid": oa["admin_wxid"], "action": "confirm"}), 422, "invalid_request")


# ---------------------------------------------------------------- mail and personal WeChat emails


def test_mail_outbox_over_http(api: httpx.Client, fastreg_server: LiveServer) -> None:
    ok(api.put("/clock", json={"now": "2026-11-10T04:00:00Z"}))
    mailer = fastreg_server.platform.mailer
    assert mailer is not None
    mailer.send(
        "owner@example.com",
        "请激活你的小程序帐号",
        "链接 http://127.0.0.1/activate/t1",
        "<a href='http://127.0.0.1/activate/t1'>激活</a>",
    )
    mailer.send("other@example.com", "别的", "无链接", "")
    [mail] = ok(api.get("/mail", params={"to": "owner@example.com"}))
    assert set(mail) == {"id", "to", "subject", "text", "html", "links", "sent_at"}
    assert mail["to"] == "owner@example.com"
    assert mail["subject"] == "请激活你的小程序帐号"
    assert mail["links"] == ["http://127.0.0.1/activate/t1"]
    assert mail["sent_at"] == "2026-11-10T04:00:00Z"
    assert "激活" in mail["html"]
    assert [m["to"] for m in ok(api.get("/mail"))] == ["owner@example.com", "other@example.com"]


def test_personal_wechat_emails(api: httpx.Client, fastreg_server: LiveServer) -> None:
    assert ok(api.post("/personal-wechat-emails", json={"email": " Me@Example.com "}), 201) == {
        "email": "me@example.com"
    }
    assert ok(api.post("/personal-wechat-emails", json={"email": "me@example.com"}), 201) == {"email": "me@example.com"}
    with fastreg_server.platform.uow(readonly=True) as uow:
        stored = uow.session.execute(select(PersonalWechatEmail.email)).scalars().all()
    assert stored == ["me@example.com"]
    error(api.post("/personal-wechat-emails", json={"email": "nope"}), 422)
    error(api.post("/personal-wechat-emails", json={}), 422)


# ---------------------------------------------------------------- the pytest plugin's client


def test_plugin_client_covers_the_sandbox_api(fastreg_sandbox: SandboxClient, fastreg_server: LiveServer) -> None:
    """The README's example, and every call of the plugin's SandboxClient against these routes."""
    oa = fastreg_sandbox.create_official_account(name="测试号", principal_name="测试公司", principal_type="enterprise")
    assert fastreg_sandbox.official_account(oa["appid"])["quota"]["remaining"] == 5
    assert fastreg_sandbox.set_clock(now="2026-11-30T16:00:00Z") == {"now": "2026-11-30T16:00:00Z", "frozen": True}
    assert fastreg_sandbox.set_blacklisted("测试公司")["blacklisted"] is True
    assert fastreg_sandbox.add_personal_wechat_email("p@example.com") == {"email": "p@example.com"}
    component = fastreg_sandbox.create_component(name="平台", redirect_domain="example.com")
    assert fastreg_sandbox.issue_verify_ticket(component["component_appid"]) != component["component_verify_ticket"]
    assert fastreg_sandbox.authorize(component["component_appid"], oa["appid"])["expires_in"] == 3600
    assert fastreg_sandbox.audit(oa["appid"])[-1]["kind"] == "component_authorized"

    fastreg_sandbox.set_blacklisted("测试公司", False)
    view = fastregister.open_auth_page(
        fastreg_server.platform, oa["appid"], component["component_appid"], True, "https://example.com/cb"
    )
    [waiting] = fastreg_sandbox.confirmations(oa["admin_wxid"])
    assert fastreg_sandbox.answer(waiting["id"], oa["admin_wxid"], "cancel")["status"] == "cancelled"
    again = fastregister.open_auth_page(
        fastreg_server.platform, oa["appid"], component["component_appid"], True, "https://example.com/cb"
    )
    assert again.id != view.id
    assert fastreg_sandbox.scan(again.url, oa["admin_wxid"])["redirect_url"].startswith("https://example.com/cb?")
    assert fastreg_sandbox.mail() == []
    with pytest.raises(httpx.HTTPStatusError):
        fastreg_sandbox.mini_program("wx0000000000000000")
    assert fastreg_sandbox.reset()["status"] == "ok"
