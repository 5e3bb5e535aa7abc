"""Platform versions: WeChat changed this API's behaviour on dated announcements; fastreg implements each
behaviour and the user pins one (``FASTREG_PLATFORM_VERSION``, or per sandbox), the way Stripe pins an API
version. And the 代认证 (certification on the MP's behalf) task that the 2023-12-25 behaviour relies on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from fastreg.domain.clock import as_utc
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import OfficialAccountFacts
from fastreg.domain.rules import Certification, inherited_certification


class PlatformVersion(StrEnum):
    # The behaviour the seed article describes: copy_wx_verify=1 certifies the new MP at once.
    V2021_06_01 = "2021-06-01"
    # "自2023年12月25日起，通过本接口新注册的账号，默认为未认证状态": certification goes through 代认证.
    V2023_12_25 = "2023-12-25"


DEFAULT_VERSION = PlatformVersion.V2021_06_01
VERSIONS: tuple[str, ...] = tuple(version.value for version in PlatformVersion)


def parse_version(value: str) -> PlatformVersion:
    """The version named by ``value``; a ``ValueError`` that lists the accepted ones otherwise."""
    try:
        return PlatformVersion(value.strip())
    except ValueError:
        raise ValueError(f"unknown platform version {value!r}: accepted versions are {', '.join(VERSIONS)}") from None


def registration_certifies(version: PlatformVersion) -> bool:
    """Whether a fast registration that reuses the OA's certification certifies the new MP by itself."""
    return version is PlatformVersion.V2021_06_01


def certification_at_completion(
    version: PlatformVersion, reuse_certification: bool, oa: OfficialAccountFacts, now: datetime
) -> Certification:
    """The new MP's certification when its registration completes: inherited from the OA (2021-06-01), or none
    whatever copy_wx_verify says (2023-12-25: uncertified until a 代认证 task is approved)."""
    if not registration_certifies(version):
        return Certification(False, None)
    return inherited_certification(reuse_certification, oa, now)


# ---------------------------------------------------------------- 代认证 tasks (wxaauth / queryauth)

# WeChat certification (微信认证) lasts one year, then needs its annual review (年审).
CERTIFICATION_VALIDITY = timedelta(days=365)
# "任务超时, 24小时内有效": the MP admin authorizes the task within 24 hours.
TASK_TTL = timedelta(hours=24)


class TaskStatus(IntEnum):
    """``task_status`` of queryauth and notify_3rd_wxa_auth (the steps sandbox tasks go through)."""

    INITIAL = 0  # waiting for the MP admin (auth_url)
    TIMED_OUT = 1  # the admin did not answer within 24 hours
    ADMIN_REFUSED = 2
    REVIEW_CREATED = 12  # the admin authorized: the review order exists (apply_status applies)


class ApplyStatus(IntEnum):
    """``apply_status``: the review order's state, valid once ``task_status`` is 12."""

    NONE = 0
    REVIEWING = 2
    APPROVED = 4
    FAILED = 5  # final: cannot be changed


APPROVE = "approve"
REJECT = "reject"
DEFAULT_FAIL_REASON = "资料审核不通过"


@dataclass(frozen=True)
class TaskState:
    task_status: TaskStatus
    apply_status: ApplyStatus


def effective_task_status(task_status: int, expires_at: datetime, now: datetime) -> TaskStatus:
    """A task still waiting for the admin after its 24 hours has timed out, even before anything marks it so."""
    status = TaskStatus(task_status)
    if status is TaskStatus.INITIAL and as_utc(now) >= as_utc(expires_at):
        return TaskStatus.TIMED_OUT
    return status


def is_open(state: TaskState) -> bool:
    """An open task (waiting for the admin, or under review) blocks a new wxaauth for the same MP."""
    return state.task_status is TaskStatus.INITIAL or (
        state.task_status is TaskStatus.REVIEW_CREATED and state.apply_status is ApplyStatus.REVIEWING
    )


def ensure_no_open_task(states: list[TaskState]) -> None:
    if any(is_open(state) for state in states):
        raise DomainError(Err.INVALID_PARAMETER)


def admin_answered(state: TaskState, confirmed: bool) -> TaskState:
    """The MP admin authorized the task (the review order is created and under review) or refused it."""
    if state.task_status is not TaskStatus.INITIAL:
        raise DomainError(Err.VERIFICATION_TASK_CLOSED)
    if not confirmed:
        return TaskState(TaskStatus.ADMIN_REFUSED, ApplyStatus.NONE)
    return TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.REVIEWING)


@dataclass(frozen=True)
class ReviewOutcome:
    state: TaskState
    certification: Certification | None  # None: the MP's certification stays as it was
    fail_reason: str | None


def review(state: TaskState, action: str, reason: str | None, now: datetime) -> ReviewOutcome:
    """The reviewer's answer to an order under review: approval certifies the MP for a year from now;
    a rejection is final (apply_status 5) and carries its reason."""
    if state.task_status is not TaskStatus.REVIEW_CREATED or state.apply_status is not ApplyStatus.REVIEWING:
        raise DomainError(Err.VERIFICATION_TASK_CLOSED)
    if action == APPROVE:
        return ReviewOutcome(
            TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.APPROVED),
            Certification(True, as_utc(now) + CERTIFICATION_VALIDITY),
            None,
        )
    if action == REJECT:
        fail_reason = (reason or "").strip() or DEFAULT_FAIL_REASON
        return ReviewOutcome(TaskState(TaskStatus.REVIEW_CREATED, ApplyStatus.FAILED), None, fail_reason)
    raise DomainError(Err.INVALID_PARAMETER)
