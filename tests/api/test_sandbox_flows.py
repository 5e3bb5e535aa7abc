"""The sandbox API driving the console's registration services: the admin's scan answered through
/sandbox/v1/scans, the activation mail read from /sandbox/v1/mail (delivered over real SMTP to the embedded
server), an email marked as bound to a personal WeChat account refused, and the pending registration shown
in the OA overview."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fastreg.adapters.db.models import OfficialAccount, Operator
from fastreg.domain.errors import DomainError, Err
from fastreg.services import registration
from fastreg.testing import LiveServer, SandboxClient

KEY = "fastreg-test-key"


@pytest.fixture
def api(fastreg_server: LiveServer, fastreg_sandbox: SandboxClient) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fastreg_server.base_url + "/sandbox/v1", headers={"X-Sandbox-Key": KEY}) as client:
        yield client


def console_registration_at_step_5(server: LiveServer, api: httpx.Client) -> tuple[dict[str, Any], int, int]:
    """An OA whose operator walked steps 1-4 (the admin's scan confirmed through the sandbox)."""
    created = api.post(
        "/official-accounts",
        json={"name": "流程号", "principal_name": "流程科技有限公司", "principal_type": "enterprise"},
    )
    assert created.status_code == 201
    oa = created.json()
    platform = server.platform
    with platform.uow(readonly=True) as uow:
        operator_id, oa_id = uow.session.execute(
            select(Operator.id, OfficialAccount.id)
            .join(OfficialAccount, OfficialAccount.id == Operator.oa_id)
            .where(OfficialAccount.appid == oa["appid"])
        ).one()
    draft = registration.start(platform, operator_id)
    scan = registration.new_scan(platform, oa_id, draft.id)
    [waiting] = api.get("/confirmations", params={"wxid": oa["admin_wxid"]}).json()
    assert waiting["id"] == scan.id and waiting["kind"] == "registration_scan"
    answer = api.post("/scans", json={"url": waiting["url"], "wxid": oa["admin_wxid"], "action": "confirm"})
    assert answer.status_code == 200 and answer.json()["status"] == "confirmed"
    registration.choose_qualifications(platform, oa_id, draft.id, True, False)
    return oa, oa_id, draft.id


def test_activation_mail_arrives_in_the_outbox(api: httpx.Client, fastreg_server: LiveServer) -> None:
    api.put("/clock", json={"now": "2026-11-10T04:00:00Z"})
    oa, oa_id, registration_id = console_registration_at_step_5(fastreg_server, api)
    registration.submit_account(
        fastreg_server.platform, oa_id, registration_id, "Owner@Example.com", "owner1234", "owner1234", "新小程序"
    )
    [mail] = api.get("/mail", params={"to": "owner@example.com"}).json()
    assert mail["to"] == "owner@example.com"
    assert "激活" in mail["subject"]
    assert mail["sent_at"] == "2026-11-10T04:00:00Z"
    activation = [link for link in mail["links"] if "/activate/" in link]
    assert activation and activation[0].startswith(fastreg_server.base_url + "/activate/")
    assert activation[0] in mail["text"] and activation[0] in mail["html"]

    pending = api.get(f"/official-accounts/{oa['appid']}").json()["pending_registration"]
    assert pending["id"] == registration_id
    assert pending["status"] == "pending"
    assert pending["email"] == "owner@example.com"


def test_personal_wechat_email_is_refused_for_a_mini_program(api: httpx.Client, fastreg_server: LiveServer) -> None:
    _, oa_id, registration_id = console_registration_at_step_5(fastreg_server, api)
    assert api.post("/personal-wechat-emails", json={"email": "Bound@Example.com"}).status_code == 201
    with pytest.raises(DomainError) as refused:
        registration.submit_account(
            fastreg_server.platform, oa_id, registration_id, "bound@example.com", "owner1234", "owner1234", None
        )
    assert refused.value.err is Err.EMAIL_PERSONAL_WECHAT
    assert api.get("/mail", params={"to": "bound@example.com"}).json() == []
