"""代认证: a component certifies a Mini Program on its behalf (permission set 18), the way WeChat certifies the MPs
fast-registered since 2023-12-25.

``wxa/sec/wxaauth`` opens a task and answers its ``auth_url`` (a phone confirmation for the MP admin, valid
24 hours); the admin's authorization creates the review order (task_status 12, apply_status 2); the sandbox
answers the review (``POST /sandbox/v1/verification-tasks/{taskid}``): approval certifies the MP for a year,
a rejection is final with its reason. ``wxa/sec/queryauth`` reads the task; the component that submitted it
hears every step on its callback (``notify_3rd_wxa_auth``, and ``notify_3rd_wxa_wxverify`` with the new
expiry once certified)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from fastreg.domain import secrets as tokens_of
from fastreg.domain.entities import Component, Confirmation, MiniProgram, VerificationTask
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, ConfirmationKind
from fastreg.domain.versions import (
    TASK_TTL,
    ApplyStatus,
    TaskState,
    TaskStatus,
    admin_answered,
    effective_task_status,
    ensure_no_open_task,
    review,
)
from fastreg.services import audit, confirmations, pushes, tokens
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.sandbox import SandboxError, not_found, utc_iso
from fastreg.services.tokens import ACCOUNT_TOKEN_KINDS

# 小程序认证: wxaauth, queryauth and their siblings belong to permission set 18.
VERIFICATION_PERMISSION_SET = 18
# Who the sandbox's review orders are dispatched to (``dispatch_info`` of notify_3rd_wxa_auth).
REVIEWER_PROVIDER = "fastreg 沙箱认证审核"
REVIEWER_CONTACT = "POST /sandbox/v1/verification-tasks/{taskid}"


def _caller_mp(uow: UnitOfWork, access_token: str | None) -> tuple[MiniProgram, int | None]:
    """The MP the token acts for, and the component holding it (None for the MP's own token): 48001 for
    another account's token, or for a component the MP did not grant permission set 18."""
    caller = tokens.authenticate(uow, access_token, ACCOUNT_TOKEN_KINDS)
    mp = uow.accounts.find_mini_program(caller.appid)
    if mp is None:
        raise DomainError(Err.UNAUTHORIZED_API)
    if caller.component_id is not None:
        authorization = uow.authorizations.authorization(caller.component_id, mp.appid)
        if authorization is None or VERIFICATION_PERMISSION_SET not in (authorization.func_info or []):
            raise DomainError(Err.UNAUTHORIZED_API)
    return mp, caller.component_id


def _state(task: VerificationTask, now: datetime) -> TaskState:
    return TaskState(effective_task_status(task.task_status, task.expires_at, now), ApplyStatus(task.apply_status))


def _set_state(task: VerificationTask, state: TaskState, now: datetime) -> None:
    task.task_status, task.apply_status, task.updated_at = int(state.task_status), int(state.apply_status), now


# ---------------------------------------------------------------- wxa/sec/wxaauth


def submit(context: Context, access_token: str | None, auth_data: dict[str, Any]) -> tuple[str, str]:
    """Open a 代认证 task for the token's MP; returns (taskid, auth_url). 40097 while another task of the MP is
    open (waiting for the admin or under review)."""
    with context.uow() as uow:
        now = uow.clock.now()
        mp, component_id = _caller_mp(uow, access_token)
        ensure_no_open_task([_state(task, now) for task in uow.verification_tasks.of_mp(mp.id)])
        component = uow.components.component_by_id(component_id) if component_id is not None else None
        taskid = tokens_of.new_token(16)
        confirmation = confirmations.new(
            context,
            now,
            ConfirmationKind.WXA_AUTH,
            mp.appid,
            mp.admin_wxid or "",
            {
                "taskid": taskid,
                "component_appid": component.appid if component else "",
                "component_name": component.name if component else "",
            },
            ttl_seconds=int(TASK_TTL.total_seconds()),
        )
        uow.confirmations.add(confirmation)
        uow.verification_tasks.add(
            VerificationTask(
                taskid=taskid,
                mp_id=mp.id,
                component_id=component_id,
                confirmation_id=confirmation.id,
                task_status=int(TaskStatus.INITIAL),
                apply_status=int(ApplyStatus.NONE),
                orderid=secrets.randbelow(9 * 10**8) + 10**8,
                auth_data=auth_data,
                fail_reason=None,
                created_at=now,
                expires_at=now + TASK_TTL,
                updated_at=now,
            )
        )
        audit.record(
            uow.audit,
            now,
            AuditKind.VERIFICATION_SUBMITTED,
            component.appid if component else mp.appid,
            mp_appid=mp.appid,
            taskid=taskid,
        )
        auth_url = confirmations.url_for(context, confirmation)
        uow.commit()
        return taskid, auth_url


def on_admin_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    """The MP admin answered auth_url: the review order is created (and dispatched), or the task refused."""
    now = uow.clock.now()
    task = _task(uow, str(confirmation.payload["taskid"]))
    state = admin_answered(_state(task, now), action == confirmations.CONFIRM)
    _set_state(task, state, now)
    if state.task_status is TaskStatus.REVIEW_CREATED:
        dispatch = {
            "provider": REVIEWER_PROVIDER,
            "contact": REVIEWER_CONTACT.format(taskid=task.taskid),
            "dispatch_time": int(now.timestamp()),
        }
        _notify(context, uow, task, "认证审核单已创建，审核中", dispatch)
    return None


# ---------------------------------------------------------------- wxa/sec/queryauth


def query(context: Context, access_token: str | None, taskid: str) -> dict[str, Any]:
    """The task as queryauth shows it (40097 for a task that is not this MP's)."""
    with context.uow(readonly=True) as uow:
        mp, _ = _caller_mp(uow, access_token)
        task = uow.verification_tasks.task(taskid)
        if task is None or task.mp_id != mp.id:
            raise DomainError(Err.INVALID_PARAMETER)
        return _answer(context, uow, task, mp.appid)


def _answer(context: Context, uow: UnitOfWork, task: VerificationTask, mp_appid: str) -> dict[str, Any]:
    state = _state(task, uow.clock.now())
    answer: dict[str, Any] = {
        "task_status": int(state.task_status),
        "apply_status": int(state.apply_status),
        "appid": mp_appid,
    }
    if state.task_status is TaskStatus.INITIAL:
        confirmation = uow.confirmations.get(task.confirmation_id)
        answer["auth_url"] = confirmations.url_for(context, confirmation) if confirmation else ""
    if state.task_status is TaskStatus.REVIEW_CREATED:
        answer["orderid"] = task.orderid
    if state.apply_status is ApplyStatus.FAILED:
        answer["fail_reason"] = task.fail_reason or ""
    return answer


# ---------------------------------------------------------------- the sandbox's review


def _task(uow: UnitOfWork, taskid: str) -> VerificationTask:
    task = uow.verification_tasks.task(taskid)
    if task is None:
        raise DomainError(Err.NOT_FOUND)
    return task


def _mp_of(uow: UnitOfWork, task: VerificationTask) -> MiniProgram:
    mp = uow.accounts.mini_program_by_id(task.mp_id)
    assert mp is not None
    return mp


def task_view(context: Context, taskid: str) -> dict[str, Any]:
    """The sandbox's view of a task: queryauth's fields and who submitted it."""
    with context.uow(readonly=True) as uow:
        return _sandbox_json(context, uow, _sandbox_task(uow, taskid))


def _sandbox_task(uow: UnitOfWork, taskid: str) -> VerificationTask:
    try:
        return _task(uow, taskid)
    except DomainError:
        raise not_found("verification task", taskid) from None


def _sandbox_json(context: Context, uow: UnitOfWork, task: VerificationTask) -> dict[str, Any]:
    component = _component(uow, task)
    return {
        "taskid": task.taskid,
        **_answer(context, uow, task, _mp_of(uow, task).appid),
        "component_appid": component.appid if component else None,
        "auth_data": task.auth_data,
        "created_at": utc_iso(task.created_at),
        "updated_at": utc_iso(task.updated_at),
    }


def answer_review(context: Context, taskid: str, action: str, reason: str | None) -> dict[str, Any]:
    """Approve (the MP is certified for a year from now, by the platform clock) or reject (final, with the
    reason) a review order; 409 unless the order is under review."""
    with context.uow() as uow:
        now = uow.clock.now()
        task = _sandbox_task(uow, taskid)
        try:
            outcome = review(_state(task, now), action, reason, now)
        except DomainError as error:
            if error.err is Err.VERIFICATION_TASK_CLOSED:
                raise SandboxError(409, "task_not_under_review", error.message("en")) from None
            raise
        _set_state(task, outcome.state, now)
        task.fail_reason = outcome.fail_reason
        mp = _mp_of(uow, task)
        if outcome.certification is not None:
            mp.certified, mp.certified_until = outcome.certification.certified, outcome.certification.certified_until
        audit.record(
            uow.audit,
            now,
            AuditKind.VERIFICATION_REVIEWED,
            "sandbox",
            mp_appid=mp.appid,
            taskid=taskid,
            action=action,
            apply_status=int(outcome.state.apply_status),
        )
        _notify(context, uow, task, outcome.fail_reason or "认证通过")
        if outcome.certification is not None and mp.certified_until is not None:
            component = _component(uow, task)
            if component is not None:
                pushes.enqueue_wxa_wxverify_event(
                    uow.pushes, now, component, mp_appid=mp.appid, expires_at=mp.certified_until, message="认证通过"
                )
        result = _sandbox_json(context, uow, task)
        uow.commit()
        return result


def _component(uow: UnitOfWork, task: VerificationTask) -> Component | None:
    return uow.components.component_by_id(task.component_id) if task.component_id is not None else None


def _notify(
    context: Context, uow: UnitOfWork, task: VerificationTask, message: str, dispatch: dict[str, Any] | None = None
) -> None:
    component = _component(uow, task)
    if component is None:
        return
    pushes.enqueue_wxa_auth_event(
        uow.pushes,
        uow.clock.now(),
        component,
        mp_appid=_mp_of(uow, task).appid,
        taskid=task.taskid,
        task_status=task.task_status,
        apply_status=task.apply_status,
        message=message,
        dispatch_info=dispatch,
    )
