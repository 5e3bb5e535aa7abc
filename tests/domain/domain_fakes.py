"""Plain stand-ins for what the domain rules read: no database, no ORM, a fixed clock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from fastreg.domain.clock import FixedClock
from fastreg.domain.model import OfficialAccountFacts, PrincipalFacts, PrincipalType
from fastreg.domain.rules import ComponentFacts, EligibilityFacts, QuotaLimits, QuotaStatus, calendar_month

TZ = "Asia/Shanghai"
# 2026-11-10 12:00 in Shanghai: well inside November.
NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
# The last second of November in Shanghai, and the first of December.
LAST_NOVEMBER_SECOND = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)
FIRST_DECEMBER_SECOND = datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeOA:
    verified: bool = True
    verify_expires_at: datetime | None = NOW + timedelta(days=365)
    overseas: bool = False


@dataclass(frozen=True)
class FakePrincipal:
    type: str = PrincipalType.ENTERPRISE.value
    blacklisted: bool = False


def clock(at: datetime = NOW) -> FixedClock:
    return FixedClock(at)


def eligible_input(
    *,
    oa: OfficialAccountFacts | None = None,
    principal: PrincipalFacts | None = None,
    now: datetime = NOW,
    limits: QuotaLimits | None = None,
    used: int = 0,
    principal_mp_count: int = 0,
    has_pending: bool = False,
    reuse_certification: bool | None = True,
    scan_valid: bool | None = True,
    component: ComponentFacts | None = None,
) -> EligibilityFacts:
    """Facts for which every check passes, unless an argument says otherwise."""
    limits = limits or QuotaLimits()
    principal = principal or FakePrincipal()
    limit = limits.individual_business_monthly if principal.type == "individual_business" else limits.monthly
    return EligibilityFacts(
        oa=oa or FakeOA(),
        principal=principal,
        principal_mp_count=principal_mp_count,
        quota=QuotaStatus(month=calendar_month(now, TZ), limit=limit, used=used),
        has_pending=has_pending,
        now=now,
        limits=limits,
        reuse_certification=reuse_certification,
        scan_valid=scan_valid,
        component=component,
    )


def good_component() -> ComponentFacts:
    return ComponentFacts(published=True, has_required_permissions=True, redirect_uri_valid=True)


# Each eligibility condition in the order of rules.md / open-api.md's fastregister table, with a way to make
# exactly that condition fail on top of existing facts.
def _personal(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, principal=replace(_principal(f), type=PrincipalType.PERSONAL.value))


def _not_verified(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, oa=replace(_oa(f), verified=False))


def _principal_limit(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, principal_mp_count=f.limits.principal_mps)


def _blacklisted(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, principal=replace(_principal(f), blacklisted=True))


def _quota(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, quota=replace(f.quota, used=f.quota.limit))


def _certification_required(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, principal=replace(_principal(f), type=PrincipalType.GOVERNMENT.value), reuse_certification=False)


def _pending(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, has_pending=True)


def _scan(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, scan_valid=False)


def _component(f: EligibilityFacts) -> ComponentFacts:
    return f.component or good_component()


def _unpublished(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, component=replace(_component(f), published=False))


def _permissions(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, component=replace(_component(f), has_required_permissions=False))


def _redirect(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, component=replace(_component(f), redirect_uri_valid=False))


def _overseas(f: EligibilityFacts) -> EligibilityFacts:
    return replace(f, oa=replace(_oa(f), overseas=True))


def _oa(f: EligibilityFacts) -> FakeOA:
    assert isinstance(f.oa, FakeOA)
    return f.oa


def _principal(f: EligibilityFacts) -> FakePrincipal:
    assert isinstance(f.principal, FakePrincipal)
    return f.principal


CONDITIONS = (
    ("personal", 61051, _personal),
    ("not_verified", 61052, _not_verified),
    ("principal_limit", 61053, _principal_limit),
    ("blacklisted", 61054, _blacklisted),
    ("quota", 61055, _quota),
    ("certification_required", 61056, _certification_required),
    ("pending", 61057, _pending),
    ("scan", 61058, _scan),
    ("unpublished", 61028, _unpublished),
    ("permissions", 61029, _permissions),
    ("redirect", 61060, _redirect),
    ("overseas", 61061, _overseas),
)
ORDER = [code for _, code, _ in CONDITIONS]
# Codes only checked when the registration completes (qualification choice and scan known by then).
COMPLETE_ONLY = frozenset({61056, 61058})
# Both set the principal type, so they cannot hold at once.
EXCLUSIVE = frozenset({"personal", "certification_required"})
