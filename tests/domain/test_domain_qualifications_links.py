"""Qualification reuse (certification inheritance, admin-binding precedence) and the link rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from domain_fakes import NOW, TZ, FakeOA, clock

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import LinkedVia
from fastreg.domain.rules import (
    Certification,
    LinkTerms,
    QuotaLimits,
    calendar_month,
    chosen_admin,
    counts_toward_link_limit,
    ensure_link_allowed,
    fast_registration_link,
    inherited_certification,
    ordinary_link,
)

OA_EXPIRY = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)

# ---------------------------------------------------------------- certification


def test_reused_certification_lasts_exactly_as_long_as_the_oas() -> None:
    oa = FakeOA(verified=True, verify_expires_at=OA_EXPIRY)
    certification = inherited_certification(True, oa, NOW)
    assert certification == Certification(certified=True, certified_until=OA_EXPIRY)
    assert certification.certified_until == oa.verify_expires_at


def test_not_certified_when_certification_is_not_reused() -> None:
    oa = FakeOA(verified=True, verify_expires_at=OA_EXPIRY)
    assert inherited_certification(False, oa, NOW) == Certification(certified=False, certified_until=None)


@pytest.mark.parametrize("expired_for", [timedelta(0), timedelta(seconds=1), timedelta(days=90)])
def test_an_expired_oa_certification_is_not_inherited(expired_for: timedelta) -> None:
    oa = FakeOA(verified=True, verify_expires_at=NOW - expired_for)
    assert inherited_certification(True, oa, NOW) == Certification(certified=False, certified_until=None)


def test_certification_inherited_one_second_before_the_oa_expiry() -> None:
    fake = clock(OA_EXPIRY - timedelta(seconds=1))
    oa = FakeOA(verified=True, verify_expires_at=OA_EXPIRY)
    assert inherited_certification(True, oa, fake.now()).certified
    fake.advance(1)
    assert not inherited_certification(True, oa, fake.now()).certified


def test_an_unverified_oa_has_no_certification_to_inherit() -> None:
    oa = FakeOA(verified=False, verify_expires_at=OA_EXPIRY)
    assert not inherited_certification(True, oa, NOW).certified


def test_certification_without_known_expiry_is_inherited_without_expiry() -> None:
    oa = FakeOA(verified=True, verify_expires_at=None)
    assert inherited_certification(True, oa, NOW) == Certification(certified=True, certified_until=None)


# ---------------------------------------------------------------- admin binding


def test_admin_bound_at_step_7_wins_over_the_reused_operator() -> None:
    assert chosen_admin("wxid_bound", True, "wxid_operator") == "wxid_bound"


def test_reused_operator_is_the_admin_when_nobody_else_is_bound() -> None:
    assert chosen_admin(None, True, "wxid_operator") == "wxid_operator"
    assert chosen_admin("", True, "wxid_operator") == "wxid_operator"


def test_operator_not_offered_without_reuse() -> None:
    assert chosen_admin(None, False, "wxid_operator") is None
    assert chosen_admin("wxid_bound", False, "wxid_operator") == "wxid_bound"
    assert chosen_admin("wxid_bound", False, None) == "wxid_bound"


# ---------------------------------------------------------------- links


def test_fast_registration_link_is_exempt_silent_and_hidden() -> None:
    assert fast_registration_link() == LinkTerms(counts_toward_limit=False, notify_users=False, show_profile=False)


@pytest.mark.parametrize("notify_users", [True, False])
@pytest.mark.parametrize("show_profile", [True, False])
def test_ordinary_link_counts_and_keeps_the_requested_flags(notify_users: bool, show_profile: bool) -> None:
    terms = ordinary_link(notify_users, show_profile)
    assert terms == LinkTerms(counts_toward_limit=True, notify_users=notify_users, show_profile=show_profile)


def test_which_links_count_toward_the_monthly_limit() -> None:
    assert not counts_toward_link_limit(LinkedVia.FAST_REGISTER)
    assert not counts_toward_link_limit("fast_register")
    assert counts_toward_link_limit(LinkedVia.LINK)
    assert counts_toward_link_limit("link")


def test_ordinary_link_limit_is_13_a_month() -> None:
    limits = QuotaLimits()
    for count in range(13):
        ensure_link_allowed(count, limits)
    for count in (13, 14):
        with pytest.raises(DomainError) as raised:
            ensure_link_allowed(count, limits)
        assert raised.value.err is Err.LINK_LIMIT
        assert raised.value.errcode == 89009
        assert raised.value.message() == "本月新增关联小程序已达13个上限"


def test_link_limit_is_configurable() -> None:
    limits = QuotaLimits(links_monthly=2)
    ensure_link_allowed(1, limits)
    with pytest.raises(DomainError) as raised:
        ensure_link_allowed(2, limits)
    assert raised.value.message() == "本月新增关联小程序已达2个上限"


def _counted(links: list[str]) -> int:
    return sum(counts_toward_link_limit(via) for via in links)


def test_fast_registration_links_never_use_up_the_13_ordinary_links() -> None:
    limits = QuotaLimits()
    this_month = [LinkedVia.FAST_REGISTER.value] * 20 + [LinkedVia.LINK.value] * 12
    ensure_link_allowed(_counted(this_month), limits)  # the 13th ordinary link is still allowed
    this_month.append(LinkedVia.LINK.value)
    with pytest.raises(DomainError):
        ensure_link_allowed(_counted(this_month), limits)
    # A fast registration still links when the ordinary limit is used up: its link is exempt.
    assert not fast_registration_link().counts_toward_limit


def test_link_month_is_the_shanghai_calendar_month() -> None:
    fake = clock(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC))
    november = calendar_month(fake.now(), TZ)
    fake.advance(1)
    assert (november, calendar_month(fake.now(), TZ)) == ("2026-11", "2026-12")
