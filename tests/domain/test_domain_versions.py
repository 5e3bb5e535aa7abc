"""Platform versions and the 代认证 task's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from domain_fakes import NOW, FakeOA

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.rules import Certification
from fastreg.domain.versions import (
    CERTIFICATION_VALIDITY,
    ApplyStatus,
    PlatformVersion,
    TaskState,
    TaskStatus,
    admin_answered,
    certification_at_completion,
    effective_task_status,
    ensure_no_open_task,
    parse_version,
    review,
)

OA_EXPIRY = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)
WAITING = TaskState(TaskStatus.INITIAL, ApplyStatus.NONE)
REVIEWING = TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.REVIEWING)


def test_versions_parse_and_unknown_ones_name_the_accepted() -> None:
    assert parse_version(" 2023-12-25 ") is PlatformVersion.V2023_12_25
    with pytest.raises(ValueError, match="2021-06-01, 2023-12-25"):
        parse_version("2023-12-24")


def test_2021_inherits_the_oas_certification_and_2023_never_certifies_at_completion() -> None:
    oa = FakeOA(verified=True, verify_expires_at=OA_EXPIRY)
    assert certification_at_completion(PlatformVersion.V2021_06_01, True, oa, NOW) == Certification(True, OA_EXPIRY)
    assert certification_at_completion(PlatformVersion.V2021_06_01, False, oa, NOW) == Certification(False, None)
    for reuse in (True, False):
        assert certification_at_completion(PlatformVersion.V2023_12_25, reuse, oa, NOW) == Certification(False, None)


def test_a_task_times_out_after_24_hours_only_while_waiting_for_the_admin() -> None:
    expires = NOW + timedelta(hours=24)
    assert effective_task_status(0, expires, expires - timedelta(seconds=1)) is TaskStatus.INITIAL
    assert effective_task_status(0, expires, expires) is TaskStatus.TIMED_OUT
    assert effective_task_status(12, expires, expires + timedelta(days=9)) is TaskStatus.REVIEW_CREATED


def test_open_tasks_block_a_new_one_and_closed_ones_do_not() -> None:
    for state in (WAITING, REVIEWING):
        with pytest.raises(DomainError) as refused:
            ensure_no_open_task([state])
        assert refused.value.err is Err.INVALID_PARAMETER
    closed = [
        TaskState(TaskStatus.TIMED_OUT, ApplyStatus.NONE),
        TaskState(TaskStatus.ADMIN_REFUSED, ApplyStatus.NONE),
        TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.APPROVED),
        TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.FAILED),
    ]
    ensure_no_open_task(closed)


def test_the_admin_answers_once() -> None:
    assert admin_answered(WAITING, True) == REVIEWING
    assert admin_answered(WAITING, False) == TaskState(TaskStatus.ADMIN_REFUSED, ApplyStatus.NONE)
    with pytest.raises(DomainError) as closed:
        admin_answered(REVIEWING, True)
    assert closed.value.err is Err.VERIFICATION_TASK_CLOSED


def test_approval_certifies_for_a_year_and_rejection_is_final_with_its_reason() -> None:
    approved = review(REVIEWING, "approve", None, NOW)
    assert approved.state.apply_status is ApplyStatus.APPROVED
    assert approved.certification == Certification(True, NOW + CERTIFICATION_VALIDITY)
    rejected = review(REVIEWING, "reject", " 资料不全 ", NOW)
    assert (rejected.state.apply_status, rejected.certification, rejected.fail_reason) == (
        ApplyStatus.FAILED,
        None,
        "资料不全",
    )
    assert review(REVIEWING, "reject", "", NOW).fail_reason
    for state in (WAITING, rejected.state, approved.state):
        with pytest.raises(DomainError) as closed:
            review(state, "approve", None, NOW)
        assert closed.value.err is Err.VERIFICATION_TASK_CLOSED
    with pytest.raises(DomainError):
        review(REVIEWING, "maybe", None, NOW)
