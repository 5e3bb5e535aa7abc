"""The rules of fast registration (``rules.md``), each implemented once, as pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from fastreg.domain.clock import as_utc
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import (
    CERTIFICATION_MANDATORY,
    CUSTOMER_TYPE_CODES,
    LinkedVia,
    OfficialAccountFacts,
    PrincipalFacts,
    PrincipalType,
    RegistrationStatus,
)

# ---------------------------------------------------------------- calendar months


def calendar_month(at: datetime, tz: str) -> str:
    """The calendar month (``YYYY-MM``) that ``at`` falls in, in the platform's time zone."""
    local = as_utc(at).astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """UTC start (inclusive) and end (exclusive) of a ``YYYY-MM`` month in the given zone."""
    year, mon = (int(part) for part in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return as_utc(start), as_utc(end)


# ---------------------------------------------------------------- quotas


@dataclass(frozen=True)
class QuotaLimits:
    monthly: int = 5
    individual_business_monthly: int = 1
    principal_mps: int = 50
    links_monthly: int = 13


def monthly_limit(principal_type: str, limits: QuotaLimits) -> int:
    if principal_type == PrincipalType.INDIVIDUAL_BUSINESS:
        return limits.individual_business_monthly
    return limits.monthly


@dataclass(frozen=True)
class QuotaStatus:
    month: str
    limit: int
    used: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


# ---------------------------------------------------------------- eligibility


class Stage(Enum):
    """When eligibility is checked. At START the qualification choice and the scan are not known yet."""

    START = "start"
    COMPLETE = "complete"


# ---------------------------------------------------------------- permission sets

# 快速注册小程序权限 (the API doc: 该接口所属的权限集 id 为 27). 授权互斥: one component per account holds it.
FASTREGISTER_PERMISSION_SET = 27
# What a component needs to fast-register (61029 otherwise): that set, 账号服务 (3, an OA's), and the Mini
# Program sets 小程序账号管理 (17), 小程序开发管理与数据分析 (18), 小程序基本信息设置 (30), 小程序认证 (31).
FASTREGISTER_REQUIRED_PERMISSION_SETS = frozenset({FASTREGISTER_PERMISSION_SET, 3, 17, 18, 30, 31})


def has_fastregister_permissions(permission_sets: Iterable[int] | None) -> bool:
    return {int(n) for n in permission_sets or []} >= FASTREGISTER_REQUIRED_PERMISSION_SETS


@dataclass(frozen=True)
class ComponentFacts:
    """What the Open API channel adds to the checks: the third-party platform asking."""

    published: bool
    has_required_permissions: bool
    redirect_uri_valid: bool = True


@dataclass(frozen=True)
class EligibilityFacts:
    """Everything the eligibility rules read, the same for both channels (the console and the Open API): the
    OA, its principal, the counts, read by one query of the repository (or of the hot path's gateway, in its
    own round trip); the completion's choices are added by :meth:`at_completion`. A new rule reads a new
    field here."""

    oa: OfficialAccountFacts
    principal: PrincipalFacts
    principal_mp_count: int
    quota: QuotaStatus
    has_pending: bool
    now: datetime
    limits: QuotaLimits
    reuse_certification: bool | None = None  # None: not chosen yet
    scan_valid: bool | None = None  # None: not asked yet (refused at Stage.COMPLETE)
    component: ComponentFacts | None = None  # None: console channel

    def at_completion(
        self, *, reuse_certification: bool, scan_valid: bool, component: ComponentFacts | None = None
    ) -> EligibilityFacts:
        """The facts with what is known when the registration completes (checked at ``Stage.COMPLETE``)."""
        return replace(self, reuse_certification=reuse_certification, scan_valid=scan_valid, component=component)


def is_certification_valid(oa: OfficialAccountFacts, now: datetime) -> bool:
    if not oa.verified:
        return False
    return oa.verify_expires_at is None or as_utc(oa.verify_expires_at) > as_utc(now)


def first_refusal(facts: EligibilityFacts, stage: Stage) -> DomainError | None:
    """The first failing check, in the order of ``rules.md`` (then the component checks of the
    fastregister table), or None when the registration may go ahead."""
    principal_type = facts.principal.type
    if principal_type == PrincipalType.PERSONAL:
        return DomainError(Err.PERSONAL_PRINCIPAL)
    if not is_certification_valid(facts.oa, facts.now):
        return DomainError(Err.NOT_VERIFIED)
    if facts.principal_mp_count >= facts.limits.principal_mps:
        return DomainError(Err.PRINCIPAL_LIMIT)
    if facts.principal.blacklisted:
        return DomainError(Err.BLACKLISTED)
    if facts.quota.exhausted:
        return DomainError(Err.QUOTA_EXCEEDED, limit=facts.quota.limit)
    if stage is Stage.COMPLETE and principal_type in CERTIFICATION_MANDATORY and not facts.reuse_certification:
        return DomainError(Err.CERTIFICATION_REQUIRED, field="reuse_certification")
    if facts.has_pending:
        return DomainError(Err.PENDING_EXISTS)
    if stage is Stage.COMPLETE and not facts.scan_valid:  # missing (None) is refused too
        return DomainError(Err.SCAN_INVALID)
    if facts.component is not None:
        if not facts.component.published:
            return DomainError(Err.COMPONENT_UNPUBLISHED)
        if not facts.component.has_required_permissions:
            return DomainError(Err.COMPONENT_PERMISSIONS)
        if not facts.component.redirect_uri_valid:
            return DomainError(Err.INVALID_REDIRECT)
    if facts.oa.overseas:
        return DomainError(Err.OVERSEAS)
    return None


def ensure_eligible(facts: EligibilityFacts, stage: Stage) -> None:
    refusal = first_refusal(facts, stage)
    if refusal is not None:
        raise refusal


def certification_locked(principal_type: str) -> bool:
    """Whether the console must show 复用认证资质 checked and locked."""
    return principal_type in CERTIFICATION_MANDATORY


# ---------------------------------------------------------------- the registration state machine

_TRANSITIONS: dict[tuple[RegistrationStatus, str], RegistrationStatus] = {
    (RegistrationStatus.DRAFT, "scan_confirmed"): RegistrationStatus.VERIFIED,
    (RegistrationStatus.VERIFIED, "account_submitted"): RegistrationStatus.PENDING,
    (RegistrationStatus.PENDING, "completed"): RegistrationStatus.COMPLETED,
}
_CLOSABLE = (RegistrationStatus.DRAFT, RegistrationStatus.VERIFIED, RegistrationStatus.PENDING)
for _status in _CLOSABLE:
    _TRANSITIONS[(_status, "cancel")] = RegistrationStatus.CANCELLED
    _TRANSITIONS[(_status, "expire")] = RegistrationStatus.EXPIRED


def next_status(current: str, event: str) -> RegistrationStatus:
    """The state after ``event``; refuses a transition the state machine does not have."""
    try:
        return _TRANSITIONS[(RegistrationStatus(current), event)]
    except (KeyError, ValueError):
        raise DomainError(Err.WRONG_STATE) from None


def is_expired(status: str, since: datetime, now: datetime, ttl_seconds: int) -> bool:
    """An open registration left untouched longer than its time to live has expired."""
    if status not in _CLOSABLE:
        return False
    return as_utc(now) - as_utc(since) >= timedelta(seconds=ttl_seconds)


# ---------------------------------------------------------------- qualification reuse


@dataclass(frozen=True)
class Certification:
    certified: bool
    certified_until: datetime | None


def inherited_certification(reuse_certification: bool, oa: OfficialAccountFacts, now: datetime) -> Certification:
    """A reused certification makes the MP certified at once, until the OA's own expiry."""
    if reuse_certification and is_certification_valid(oa, now):
        return Certification(True, oa.verify_expires_at)
    return Certification(False, None)


def chosen_admin(bound_admin_wxid: str | None, reuse_operator: bool, operator_wxid: str | None) -> str | None:
    """The admin bound at step 7 wins over the OA operator offered by 复用运营者信息."""
    if bound_admin_wxid:
        return bound_admin_wxid
    if reuse_operator:
        return operator_wxid
    return None


# ---------------------------------------------------------------- linking


@dataclass(frozen=True)
class LinkTerms:
    counts_toward_limit: bool
    notify_users: bool
    show_profile: bool


def fast_registration_link() -> LinkTerms:
    """The link a fast registration makes: exempt from 13/month, no follower notice, not on the profile."""
    return LinkTerms(counts_toward_limit=False, notify_users=False, show_profile=False)


def ordinary_link(notify_users: bool, show_profile: bool) -> LinkTerms:
    return LinkTerms(counts_toward_limit=True, notify_users=notify_users, show_profile=show_profile)


def counts_toward_link_limit(linked_via: str) -> bool:
    return linked_via != LinkedVia.FAST_REGISTER


def ensure_link_allowed(links_this_month: int, limits: QuotaLimits) -> None:
    if links_this_month >= limits.links_monthly:
        raise DomainError(Err.LINK_LIMIT, limit=limits.links_monthly)


# ---------------------------------------------------------------- verification as getaccountbasicinfo reports it

# The annual review (年审) opens this long before the certification expires.
ANNUAL_REVIEW_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class VerificationReport:
    realname_status: int  # 1 verified; 2 until the account's qualification is verified
    wx_verify_info: dict[str, bool | int]
    customer_type: int  # 0 until certified


def verification_report(
    *, verified: bool, expires_at: datetime | None, now: datetime, principal_type: str
) -> VerificationReport:
    """What ``getaccountbasicinfo`` says of an account's verification (微信认证). ``verified`` is whether it was
    ever verified (its real name stays verified); the qualification counts until ``expires_at``. The annual
    review fields appear only with a current qualification, as WeChat sends them."""
    current = verified and (expires_at is None or as_utc(expires_at) > as_utc(now))
    info: dict[str, bool | int] = {"qualification_verify": current, "naming_verify": current}
    if current:
        end = int(as_utc(expires_at).timestamp()) if expires_at is not None else 0
        begin = int(as_utc(expires_at - ANNUAL_REVIEW_WINDOW).timestamp()) if expires_at is not None else 0
        info.update(
            annual_review=expires_at is not None and as_utc(now) >= as_utc(expires_at - ANNUAL_REVIEW_WINDOW),
            annual_review_begin_time=begin,
            annual_review_end_time=end,
        )
    customer_type = CUSTOMER_TYPE_CODES.get(PrincipalType(principal_type), 0) if current else 0
    return VerificationReport(realname_status=1 if verified else 2, wx_verify_info=info, customer_type=customer_type)


# ---------------------------------------------------------------- email and password

# Dot-atom local part (no leading, trailing or double dot); domain labels of 1..63 characters that neither start
# nor end with a hyphen; an alphabetic top-level domain.
_EMAIL = re.compile(
    r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}$"
)
WXID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{3,39}$")
EMAIL_MAX_LENGTH = 254  # RFC 5321's limit, and the columns'
MP_NAME_MAX_LENGTH = 200


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email_format(email: str) -> str:
    """The normalized address, or a refusal shown next to the email field."""
    normalized = normalize_email(email)
    local_part = normalized.partition("@")[0]
    if len(normalized) > EMAIL_MAX_LENGTH or len(local_part) > 64 or not _EMAIL.match(normalized) or ".." in normalized:
        raise DomainError(Err.EMAIL_INVALID, field="email")
    return normalized


def validate_mp_name(name: str | None) -> str | None:
    """The Mini Program name chosen at registration (None when left empty), or a refusal next to its field."""
    stripped = (name or "").strip()
    if len(stripped) > MP_NAME_MAX_LENGTH:
        raise DomainError(Err.MP_NAME_INVALID, field="mp_name", limit=MP_NAME_MAX_LENGTH)
    return stripped or None


def ensure_email_available(email: str, *, used_on_platform: bool, bound_to_personal_wechat: bool) -> None:
    if used_on_platform:
        raise DomainError(Err.EMAIL_TAKEN, field="email")
    if bound_to_personal_wechat:
        raise DomainError(Err.EMAIL_PERSONAL_WECHAT, field="email")


def password_problems(password: str, confirmation: str | None = None) -> list[DomainError]:
    """Every refusal of a password and its confirmation (a form shows them together)."""
    problems = []
    if len(password) < 8 or not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append(DomainError(Err.PASSWORD_WEAK, field="password"))
    if confirmation is not None and confirmation != password:
        problems.append(DomainError(Err.PASSWORD_MISMATCH, field="password_confirm"))
    return problems


def validate_password(password: str, confirmation: str | None = None) -> None:
    for problem in password_problems(password, confirmation):
        raise problem


def validate_wxid(wxid: str) -> str:
    value = wxid.strip()
    if not WXID.match(value):
        raise DomainError(Err.WXID_INVALID, field="admin_wxid")
    return value


# ---------------------------------------------------------------- login lockout


def login_locked(recent_failures: int, max_failures: int) -> bool:
    """Locked once ``max_failures`` failures fall within the window (the caller counts the window)."""
    return recent_failures >= max_failures
