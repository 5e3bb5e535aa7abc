"""Eligibility (rules.md, "Eligibility"): each check, its boundaries, and the order in which checks are reported."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from domain_fakes import (
    COMPLETE_ONLY,
    CONDITIONS,
    EXCLUSIVE,
    NOW,
    ORDER,
    FakeOA,
    FakePrincipal,
    eligible_input,
    good_component,
)
from hypothesis import assume, given
from hypothesis import strategies as st

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import CERTIFICATION_MANDATORY, PrincipalType
from fastreg.domain.rules import (
    EligibilityFacts,
    QuotaLimits,
    Stage,
    certification_locked,
    ensure_eligible,
    first_refusal,
    is_certification_valid,
)

Condition = Callable[[EligibilityFacts], EligibilityFacts]


def code(facts: EligibilityFacts, stage: Stage = Stage.COMPLETE) -> int | None:
    refusal = first_refusal(facts, stage)
    return None if refusal is None else refusal.errcode


def apply(conditions: list[tuple[str, int, Condition]], facts: EligibilityFacts | None = None) -> EligibilityFacts:
    facts = facts or eligible_input(component=good_component())
    for _, _, make_fail in conditions:
        facts = make_fail(facts)
    return facts


# ---------------------------------------------------------------- everything fine


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize(
    "principal_type",
    [t for t in PrincipalType if t is not PrincipalType.PERSONAL],
)
def test_every_allowed_principal_type_is_eligible_with_certification_reuse(stage: Stage, principal_type: str) -> None:
    facts = eligible_input(principal=FakePrincipal(type=principal_type), reuse_certification=True)
    assert first_refusal(facts, stage) is None
    ensure_eligible(facts, stage)  # does not raise


def test_open_api_channel_with_a_sound_component_is_eligible() -> None:
    assert first_refusal(eligible_input(component=good_component()), Stage.COMPLETE) is None


# ---------------------------------------------------------------- each check on its own


@pytest.mark.parametrize(("name", "errcode", "make_fail"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_each_condition_alone_is_refused_with_its_code(name: str, errcode: int, make_fail: Condition) -> None:
    facts = make_fail(eligible_input(component=good_component()))
    refusal = first_refusal(facts, Stage.COMPLETE)
    assert refusal is not None
    assert refusal.errcode == errcode
    with pytest.raises(DomainError) as raised:
        ensure_eligible(facts, Stage.COMPLETE)
    assert raised.value.errcode == errcode


def test_personal_principal_is_refused_with_the_console_message() -> None:
    refusal = first_refusal(eligible_input(principal=FakePrincipal(type="personal")), Stage.START)
    assert refusal is not None
    assert refusal.err is Err.PERSONAL_PRINCIPAL
    assert refusal.message() == "个人主体的公众号不支持快速注册小程序"


def test_unverified_oa_is_refused_even_with_a_future_expiry() -> None:
    oa = FakeOA(verified=False, verify_expires_at=NOW + timedelta(days=30))
    refusal = first_refusal(eligible_input(oa=oa), Stage.START)
    assert refusal is not None
    assert refusal.err is Err.NOT_VERIFIED
    assert refusal.message() == "公众号未认证"


@pytest.mark.parametrize(
    ("expires_at", "eligible"),
    [
        (NOW + timedelta(seconds=1), True),
        (NOW, False),  # certification ends at its expiry instant
        (NOW - timedelta(seconds=1), False),
        (NOW - timedelta(days=400), False),
        (None, True),  # verified without a known expiry
    ],
)
def test_expired_certification_counts_as_not_verified(expires_at: datetime | None, eligible: bool) -> None:
    oa = FakeOA(verified=True, verify_expires_at=expires_at)
    assert is_certification_valid(oa, NOW) is eligible
    assert code(eligible_input(oa=oa), Stage.START) == (None if eligible else 61052)


def test_certification_expiry_read_from_a_naive_database_value_is_utc() -> None:
    naive_future = (NOW + timedelta(hours=1)).replace(tzinfo=None)
    naive_past = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    assert is_certification_valid(FakeOA(verify_expires_at=naive_future), NOW)
    assert not is_certification_valid(FakeOA(verify_expires_at=naive_past), NOW)


def test_principal_mp_limit_boundary_default_50() -> None:
    assert QuotaLimits().principal_mps == 50
    assert code(eligible_input(principal_mp_count=49), Stage.START) is None
    assert code(eligible_input(principal_mp_count=50), Stage.START) == 61053
    assert code(eligible_input(principal_mp_count=51), Stage.START) == 61053


def test_principal_mp_limit_is_configurable() -> None:
    limits = QuotaLimits(principal_mps=3)
    assert code(eligible_input(limits=limits, principal_mp_count=2), Stage.START) is None
    assert code(eligible_input(limits=limits, principal_mp_count=3), Stage.START) == 61053


def test_blacklisted_principal_is_refused() -> None:
    assert code(eligible_input(principal=FakePrincipal(blacklisted=True)), Stage.START) == 61054


@pytest.mark.parametrize(
    ("principal_type", "limit"),
    [("enterprise", 5), ("media", 5), ("government", 5), ("other_org", 5), ("individual_business", 1)],
)
def test_quota_boundary_with_console_message(principal_type: str, limit: int) -> None:
    principal = FakePrincipal(type=principal_type)
    assert code(eligible_input(principal=principal, used=limit - 1), Stage.START) is None
    refusal = first_refusal(eligible_input(principal=principal, used=limit), Stage.START)
    assert refusal is not None
    assert refusal.err is Err.QUOTA_EXCEEDED
    assert refusal.errmsg == "exceed quota per month"
    assert refusal.message() == f"本月已复用资质创建{limit}个小程序,不可新增。"


def test_quota_refusal_message_follows_a_configured_limit() -> None:
    limits = QuotaLimits(monthly=7, individual_business_monthly=2)
    assert code(eligible_input(limits=limits, used=6), Stage.START) is None
    refusal = first_refusal(eligible_input(limits=limits, used=7), Stage.START)
    assert refusal is not None
    assert refusal.message() == "本月已复用资质创建7个小程序,不可新增。"
    individual = FakePrincipal(type="individual_business")
    assert code(eligible_input(limits=limits, principal=individual, used=1), Stage.START) is None
    refusal = first_refusal(eligible_input(limits=limits, principal=individual, used=2), Stage.START)
    assert refusal is not None
    assert refusal.message() == "本月已复用资质创建2个小程序,不可新增。"


@pytest.mark.parametrize("principal_type", sorted(CERTIFICATION_MANDATORY))
@pytest.mark.parametrize("reuse", [False, None])
def test_mandatory_types_must_reuse_certification(principal_type: str, reuse: bool | None) -> None:
    facts = eligible_input(principal=FakePrincipal(type=principal_type), reuse_certification=reuse)
    refusal = first_refusal(facts, Stage.COMPLETE)
    assert refusal is not None
    assert refusal.errcode == 61056
    assert refusal.field == "reuse_certification"
    assert code(replace(facts, reuse_certification=True), Stage.COMPLETE) is None


@pytest.mark.parametrize("principal_type", ["enterprise", "individual_business"])
def test_certification_reuse_is_optional_for_enterprises_and_individual_businesses(principal_type: str) -> None:
    facts = eligible_input(principal=FakePrincipal(type=principal_type), reuse_certification=False)
    assert code(facts, Stage.COMPLETE) is None


def test_certification_locked_exactly_for_government_media_and_other_org() -> None:
    assert {t for t in PrincipalType if certification_locked(t)} == {
        PrincipalType.GOVERNMENT,
        PrincipalType.MEDIA,
        PrincipalType.OTHER_ORG,
    }


def test_pending_registration_blocks_with_its_message() -> None:
    refusal = first_refusal(eligible_input(has_pending=True), Stage.START)
    assert refusal is not None
    assert refusal.errcode == 61057
    assert refusal.message() == "公众号仍有快速创建的账号在流程中"


def test_invalid_scan_refuses_completion() -> None:
    assert code(eligible_input(scan_valid=False), Stage.COMPLETE) == 61058
    assert code(eligible_input(scan_valid=True), Stage.COMPLETE) is None


def test_component_checks_do_not_apply_to_the_console_channel() -> None:
    assert eligible_input().component is None
    assert code(eligible_input(), Stage.COMPLETE) is None


def test_overseas_oa_is_refused() -> None:
    assert code(eligible_input(oa=FakeOA(overseas=True)), Stage.START) == 61061


# ---------------------------------------------------------------- Stage.START


def test_start_skips_certification_requirement_and_scan() -> None:
    facts = eligible_input(principal=FakePrincipal(type="government"), reuse_certification=None, scan_valid=None)
    assert code(facts, Stage.START) is None
    facts = eligible_input(principal=FakePrincipal(type="media"), reuse_certification=False, scan_valid=False)
    assert code(facts, Stage.START) is None
    assert code(facts, Stage.COMPLETE) == 61056


@pytest.mark.parametrize(("name", "errcode", "make_fail"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_each_condition_at_start(name: str, errcode: int, make_fail: Condition) -> None:
    facts = make_fail(eligible_input(component=good_component()))
    expected = None if errcode in COMPLETE_ONLY else errcode
    assert code(facts, Stage.START) == expected


# ---------------------------------------------------------------- order


def test_the_order_is_the_one_of_the_fastregister_table() -> None:
    assert ORDER == [61051, 61052, 61053, 61054, 61055, 61056, 61057, 61058, 61028, 61029, 61060, 61061]


_PAIRS = [
    (earlier, later) for earlier, later in itertools.combinations(CONDITIONS, 2) if {earlier[0], later[0]} != EXCLUSIVE
]


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize(("earlier", "later"), _PAIRS, ids=[f"{a[0]}-before-{b[0]}" for a, b in _PAIRS])
def test_for_each_pair_of_failures_the_earlier_is_reported(
    stage: Stage, earlier: tuple[str, int, Condition], later: tuple[str, int, Condition]
) -> None:
    # Apply in both orders of construction: the report must not depend on how the facts were built.
    for conditions in ([earlier, later], [later, earlier]):
        facts = apply(conditions)
        expected = next((c[1] for c in (earlier, later) if stage is Stage.COMPLETE or c[1] not in COMPLETE_ONLY), None)
        assert code(facts, stage) == expected


def test_personal_principal_is_reported_even_when_everything_else_fails() -> None:
    everything = [c for c in CONDITIONS if c[0] != "certification_required"]
    assert code(apply(everything), Stage.COMPLETE) == 61051
    assert code(apply(everything), Stage.START) == 61051


def test_mandatory_certification_with_everything_after_it_failing() -> None:
    after = CONDITIONS[5:]
    assert after[0][1] == 61056
    assert code(apply(list(after)), Stage.COMPLETE) == 61056
    assert code(apply(list(after)), Stage.START) == 61057  # 61056 and 61058 are not checked at start


@given(st.sets(st.sampled_from(range(len(CONDITIONS))), min_size=1), st.sampled_from(list(Stage)))
def test_any_set_of_failures_reports_the_first_in_order(indexes: set[int], stage: Stage) -> None:
    chosen = [CONDITIONS[i] for i in sorted(indexes)]
    assume(not {c[0] for c in chosen} >= EXCLUSIVE)
    checked = [c[1] for c in chosen if stage is Stage.COMPLETE or c[1] not in COMPLETE_ONLY]
    assert code(apply(chosen), stage) == (checked[0] if checked else None)


def test_a_refusal_changes_nothing_in_the_facts() -> None:
    facts = apply([CONDITIONS[4], CONDITIONS[6]])  # quota and pending
    snapshot = replace(facts)
    first_refusal(facts, Stage.COMPLETE)
    with pytest.raises(DomainError):
        ensure_eligible(facts, Stage.COMPLETE)
    assert facts == snapshot


def test_a_missing_scan_refuses_completion() -> None:
    # rules.md: "the admin's scan confirmation is missing ... → 61058". By completion the scan must be known.
    assert code(eligible_input(scan_valid=None), Stage.COMPLETE) == 61058
    assert code(eligible_input(scan_valid=None), Stage.START) is None
