"""Names of the domain as rules.md and open-api.md spell them."""

from __future__ import annotations

from domain_fakes import FakeOA, FakePrincipal

from fastreg.domain.model import (
    CERTIFICATION_MANDATORY,
    LINK_STATUS_CODES,
    OPEN_STATUSES,
    PRINCIPAL_TYPE_CODES,
    PRINCIPAL_TYPE_NAMES_ZH,
    Channel,
    LinkedVia,
    LinkStatus,
    OfficialAccountFacts,
    PrincipalFacts,
    PrincipalType,
    RegistrationStatus,
)


def test_principal_types_and_their_chinese_names() -> None:
    assert {t.value: PRINCIPAL_TYPE_NAMES_ZH[t] for t in PrincipalType} == {
        "enterprise": "企业",
        "media": "媒体",
        "government": "政府",
        "other_org": "其他组织",
        "individual_business": "个体工商户",
        "personal": "个人",
    }


def test_principal_type_codes_are_distinct_and_complete() -> None:
    assert set(PRINCIPAL_TYPE_CODES) == set(PrincipalType)
    assert len(set(PRINCIPAL_TYPE_CODES.values())) == len(PrincipalType)
    assert PRINCIPAL_TYPE_CODES[PrincipalType.PERSONAL] == 0
    assert PRINCIPAL_TYPE_CODES[PrincipalType.ENTERPRISE] == 1
    assert PRINCIPAL_TYPE_CODES[PrincipalType.MEDIA] == 2


def test_certification_is_mandatory_for_government_media_and_other_org() -> None:
    assert frozenset({"government", "media", "other_org"}) == CERTIFICATION_MANDATORY


def test_registration_states() -> None:
    assert [s.value for s in RegistrationStatus] == [
        "draft",
        "verified",
        "pending",
        "completed",
        "cancelled",
        "expired",
    ]
    assert frozenset({"draft", "verified", "pending"}) == OPEN_STATUSES


def test_link_status_codes_of_wxamplinkget() -> None:
    assert {s: LINK_STATUS_CODES[s] for s in LinkStatus} == {
        LinkStatus.LINKED: 1,
        LinkStatus.WAITING_MP_ADMIN: 2,
        LinkStatus.REFUSED: 3,
        LinkStatus.WAITING_OA_ADMIN: 12,
    }


def test_stored_names() -> None:
    assert (LinkedVia.FAST_REGISTER.value, LinkedVia.LINK.value) == ("fast_register", "link")
    assert (Channel.CONSOLE.value, Channel.OPEN_API.value) == ("console", "open_api")


def test_plain_dataclasses_satisfy_the_fact_protocols() -> None:
    oa: OfficialAccountFacts = FakeOA()
    principal: PrincipalFacts = FakePrincipal()
    assert oa.verified and not oa.overseas
    assert principal.type == "enterprise" and not principal.blacklisted
