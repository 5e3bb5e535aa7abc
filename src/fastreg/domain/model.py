"""Names of the domain: account kinds, principal types, states, and the read-only facts rules look at."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PrincipalType(StrEnum):
    ENTERPRISE = "enterprise"
    MEDIA = "media"
    GOVERNMENT = "government"
    OTHER_ORG = "other_org"
    INDIVIDUAL_BUSINESS = "individual_business"
    PERSONAL = "personal"


# Official numbering of principal types, as getaccountbasicinfo reports them.
PRINCIPAL_TYPE_CODES: dict[PrincipalType, int] = {
    PrincipalType.PERSONAL: 0,
    PrincipalType.ENTERPRISE: 1,
    PrincipalType.MEDIA: 2,
    PrincipalType.GOVERNMENT: 3,
    PrincipalType.OTHER_ORG: 4,
    PrincipalType.INDIVIDUAL_BUSINESS: 5,
}

# getaccountbasicinfo's ``customer_type`` (认证类型) of a certified account; 0 until certified. WeChat's answers
# show 1 for an enterprise and 12 for an individual business; the others follow WeChat's 认证 types.
CUSTOMER_TYPE_CODES: dict[PrincipalType, int] = {
    PrincipalType.ENTERPRISE: 1,
    PrincipalType.INDIVIDUAL_BUSINESS: 12,
    PrincipalType.MEDIA: 15,
    PrincipalType.GOVERNMENT: 16,
    PrincipalType.OTHER_ORG: 17,
}

PRINCIPAL_TYPE_NAMES_ZH: dict[PrincipalType, str] = {
    PrincipalType.ENTERPRISE: "企业",
    PrincipalType.MEDIA: "媒体",
    PrincipalType.GOVERNMENT: "政府",
    PrincipalType.OTHER_ORG: "其他组织",
    PrincipalType.INDIVIDUAL_BUSINESS: "个体工商户",
    PrincipalType.PERSONAL: "个人",
}

# Types that must reuse the OA's certification (61056).
CERTIFICATION_MANDATORY = frozenset({PrincipalType.GOVERNMENT, PrincipalType.MEDIA, PrincipalType.OTHER_ORG})


class RegistrationStatus(StrEnum):
    DRAFT = "draft"
    VERIFIED = "verified"
    PENDING = "pending"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


OPEN_STATUSES = frozenset({RegistrationStatus.DRAFT, RegistrationStatus.VERIFIED, RegistrationStatus.PENDING})


class Channel(StrEnum):
    CONSOLE = "console"
    OPEN_API = "open_api"


class ConfirmationKind(StrEnum):
    # The OA admin approves a console registration (wizard step 3).
    REGISTRATION_SCAN = "registration_scan"
    # The chosen admin approves being bound to the new MP (wizard step 7).
    BIND_ADMIN = "bind_admin"
    # The OA admin approves a third-party fast registration (fastregisterauth page).
    FASTREGISTER_AUTH = "fastregister_auth"
    # The OA admin approves a component's authorization (componentloginpage).
    COMPONENT_AUTH = "component_auth"
    # Ordinary link: OA admin first, then MP admin.
    LINK_OA_ADMIN = "link_oa_admin"
    LINK_MP_ADMIN = "link_mp_admin"
    # The MP admin authorizes a 代认证 task (wxaauth's auth_url).
    WXA_AUTH = "wxa_auth"
    # wxampunlink: the OA admin agrees to unlink (the link stays until then).
    UNLINK_OA_ADMIN = "unlink_oa_admin"


class ConfirmationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class LinkStatus(StrEnum):
    """wxamplinkget's numeric ``status``."""

    LINKED = "linked"
    WAITING_MP_ADMIN = "waiting_mp_admin"
    REFUSED = "refused"
    WAITING_OA_ADMIN = "waiting_oa_admin"


LINK_STATUS_CODES: dict[LinkStatus, int] = {
    LinkStatus.LINKED: 1,
    LinkStatus.WAITING_MP_ADMIN: 2,
    LinkStatus.REFUSED: 3,
    LinkStatus.WAITING_OA_ADMIN: 12,
}


class LinkedVia(StrEnum):
    FAST_REGISTER = "fast_register"
    LINK = "link"


class AuditKind(StrEnum):
    REGISTRATION_STARTED = "registration_started"
    SCAN_CONFIRMED = "scan_confirmed"
    SCAN_CANCELLED = "scan_cancelled"
    QUALIFICATIONS_CHOSEN = "qualifications_chosen"
    ACCOUNT_SUBMITTED = "account_submitted"
    REFUSED = "refused"
    QUOTA_REFUSED = "quota_refused"
    ACTIVATION_SENT = "activation_sent"
    EMAIL_CHANGED = "email_changed"
    ACTIVATED = "activated"
    ADMIN_BOUND = "admin_bound"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    LINKED = "linked"
    LINK_REQUESTED = "link_requested"
    UNLINKED = "unlinked"
    UNLINK_REQUESTED = "unlink_requested"
    SHOW_PROFILE_CHANGED = "show_profile_changed"
    LOGIN_FAILED = "login_failed"
    TICKET_ISSUED = "ticket_issued"
    COMPONENT_AUTHORIZED = "component_authorized"
    VERIFICATION_SUBMITTED = "verification_submitted"
    VERIFICATION_REVIEWED = "verification_reviewed"
    WECHAT_USER_CREATED = "wechat_user_created"
    WECHAT_USER_ENROLLED = "wechat_user_enrolled"


class OfficialAccountFacts(Protocol):
    """What the eligibility rules read of an OA (an ORM row or a test dataclass satisfies it)."""

    @property
    def verified(self) -> bool: ...
    @property
    def verify_expires_at(self) -> datetime | None: ...
    @property
    def overseas(self) -> bool: ...


class PrincipalFacts(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def blacklisted(self) -> bool: ...
