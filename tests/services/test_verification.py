"""代认证 on the fake unit of work: who may open a task (the MP itself, or a component holding permission set 18),
one open task per MP, the admin's answer, the sandbox's review (a year's certification, or a final rejection with
its reason) and the pushes the submitting component hears."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import Component, MiniProgram, VerificationTask
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind
from fastreg.services import verification
from fastreg.services.sandbox import SandboxError
from tests.fakes import FakeContext

from . import seed

AUTH_DATA = {"customer_type": 1, "contact_info": {"name": "张三"}}


@pytest.fixture
def mp(ctx: FakeContext) -> MiniProgram:
    return seed.mp(ctx)


@pytest.fixture
def component(ctx: FakeContext, mp: MiniProgram) -> Component:
    component = seed.component(ctx)
    seed.authorize(ctx, component, mp.appid, [1, verification.VERIFICATION_PERMISSION_SET])
    return component


def component_token(ctx: FakeContext, component: Component, mp: MiniProgram) -> str:
    return seed.token(ctx, "authorizer_token", mp.appid, component_id=component.id)


def refused(err: Err, call: object, *args: object) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    assert caught.value.err is err


def test_a_component_opens_a_task_the_admin_authorizes(ctx: FakeContext, mp: MiniProgram, component: Component) -> None:
    token = component_token(ctx, component, mp)
    taskid, auth_url = verification.submit(ctx, token, AUTH_DATA)
    asked = seed.pending(ctx, ConfirmationKind.WXA_AUTH, mp.appid)
    assert auth_url.endswith("/m/confirm/" + auth_url.rsplit("/", 1)[-1]) and asked.allowed_wxid == mp.admin_wxid
    assert asked.expires_at - asked.created_at == timedelta(hours=24)
    first = verification.query(ctx, token, taskid)
    assert first == {"task_status": 0, "apply_status": 0, "appid": mp.appid, "auth_url": auth_url}
    seed.answer(ctx, asked, "confirm")
    answered = verification.query(ctx, token, taskid)
    (task,) = ctx.store.all(VerificationTask)
    assert answered == {"task_status": 12, "apply_status": 2, "appid": mp.appid, "orderid": task.orderid}
    (push,) = seed.pushes_to(ctx, component)
    assert (push["InfoType"], push["taskid"], push["task_status"], push["apply_status"]) == (
        "notify_3rd_wxa_auth",
        taskid,
        12,
        2,
    )
    assert push["dispatch_info"]["contact"].endswith(taskid)
    assert ctx.push_queued.count == 1  # the worker is woken once the push is committed


def test_only_the_mp_or_a_component_with_set_18_may_open_one(ctx: FakeContext, mp: MiniProgram) -> None:
    without = seed.component(ctx)
    seed.authorize(ctx, without, mp.appid, [1, 65])
    refused(Err.UNAUTHORIZED_API, verification.submit, ctx, component_token(ctx, without, mp), AUTH_DATA)
    unauthorized = seed.component(ctx)
    refused(Err.UNAUTHORIZED_API, verification.submit, ctx, component_token(ctx, unauthorized, mp), AUTH_DATA)
    oa = seed.oa(ctx)
    refused(Err.UNAUTHORIZED_API, verification.submit, ctx, seed.token(ctx, "access_token", oa.appid), AUTH_DATA)
    refused(Err.TOKEN_MISSING, verification.submit, ctx, None, AUTH_DATA)
    refused(Err.INVALID_CREDENTIAL, verification.submit, ctx, "not-a-token", AUTH_DATA)
    assert ctx.store.all(VerificationTask) == []
    own = seed.token(ctx, "access_token", mp.appid)
    taskid, _ = verification.submit(ctx, own, AUTH_DATA)
    assert ctx.store.all(VerificationTask)[0].component_id is None
    assert verification.query(ctx, own, taskid)["task_status"] == 0
    assert seed.pushes_to(ctx, without) == []


def test_an_expired_token_is_42001(ctx: FakeContext, mp: MiniProgram, fake_clock: FixedClock) -> None:
    token = seed.token(ctx, "access_token", mp.appid, ttl=60)
    fake_clock.advance(61)
    refused(Err.TOKEN_EXPIRED, verification.submit, ctx, token, AUTH_DATA)


def test_one_open_task_per_mp(ctx: FakeContext, mp: MiniProgram, fake_clock: FixedClock) -> None:
    token = seed.token(ctx, "access_token", mp.appid)
    verification.submit(ctx, token, AUTH_DATA)
    refused(Err.INVALID_PARAMETER, verification.submit, ctx, token, AUTH_DATA)  # waiting for the admin
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.WXA_AUTH, mp.appid), "confirm")
    refused(Err.INVALID_PARAMETER, verification.submit, ctx, token, AUTH_DATA)  # under review
    other = seed.mp(ctx)
    verification.submit(ctx, seed.token(ctx, "access_token", other.appid), AUTH_DATA)  # another MP may
    refused(Err.INVALID_PARAMETER, verification.query, ctx, token, ctx.store.all(VerificationTask)[1].taskid)


def test_a_task_the_admin_leaves_unanswered_times_out(
    ctx: FakeContext, mp: MiniProgram, fake_clock: FixedClock
) -> None:
    token = seed.token(ctx, "access_token", mp.appid, ttl=30 * 24 * 3600)
    taskid, _ = verification.submit(ctx, token, AUTH_DATA)
    fake_clock.advance(24 * 3600 + 1)
    assert verification.query(ctx, token, taskid)["task_status"] == 1
    verification.submit(ctx, token, AUTH_DATA)  # no longer open


def test_the_admin_refuses(ctx: FakeContext, mp: MiniProgram, component: Component) -> None:
    token = component_token(ctx, component, mp)
    taskid, _ = verification.submit(ctx, token, AUTH_DATA)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.WXA_AUTH, mp.appid), "cancel")
    assert verification.query(ctx, token, taskid) == {"task_status": 2, "apply_status": 0, "appid": mp.appid}
    assert seed.pushes_to(ctx, component) == []
    with pytest.raises(SandboxError) as closed:
        verification.answer_review(ctx, taskid, "approve", None)
    assert closed.value.status == 409


def test_approval_certifies_the_mp_for_a_year(
    ctx: FakeContext, mp: MiniProgram, component: Component, fake_clock: FixedClock
) -> None:
    taskid, _ = verification.submit(ctx, component_token(ctx, component, mp), AUTH_DATA)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.WXA_AUTH, mp.appid), "confirm")
    fake_clock.advance(3600)
    view = verification.answer_review(ctx, taskid, "approve", None)
    assert (view["task_status"], view["apply_status"], view["component_appid"]) == (12, 4, component.appid)
    assert view["auth_data"] == AUTH_DATA
    assert mp.certified and mp.certified_until == fake_clock.now() + timedelta(days=365)
    infos = [(p["InfoType"], p.get("apply_status"), p.get("expired")) for p in seed.pushes_to(ctx, component)]
    assert infos[1:] == [
        ("notify_3rd_wxa_auth", 4, None),
        ("notify_3rd_wxa_wxverify", None, int(mp.certified_until.timestamp())),
    ]
    with pytest.raises(SandboxError) as again:
        verification.answer_review(ctx, taskid, "reject", "too late")
    assert again.value.status == 409


def test_rejection_is_final_with_its_reason(ctx: FakeContext, mp: MiniProgram, component: Component) -> None:
    token = component_token(ctx, component, mp)
    taskid, _ = verification.submit(ctx, token, AUTH_DATA)
    seed.answer(ctx, seed.pending(ctx, ConfirmationKind.WXA_AUTH, mp.appid), "confirm")
    verification.answer_review(ctx, taskid, "reject", "资料不全")
    assert verification.query(ctx, token, taskid)["fail_reason"] == "资料不全"
    assert not mp.certified
    assert seed.pushes_to(ctx, component)[-1]["message"] == "资料不全"
    assert verification.task_view(ctx, taskid)["apply_status"] == 5


def test_the_sandbox_does_not_know_other_tasks(ctx: FakeContext) -> None:
    for call in (
        lambda: verification.task_view(ctx, "nope"),
        lambda: verification.answer_review(ctx, "nope", "approve", None),
    ):
        with pytest.raises(SandboxError) as missing:
            call()
        assert missing.value.status == 404
