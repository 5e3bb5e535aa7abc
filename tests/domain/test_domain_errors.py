"""Errors are values: the official errcode, WeChat's wire errmsg (fidelity.md §1), and the console's messages."""

from __future__ import annotations

import pytest

from fastreg.domain.errors import DomainError, Err

# fidelity.md §1: the errmsg WeChat writes on the wire (before its " rid: ..." suffix) for each code.
WIRE_TABLE = [
    (61051, "invalid realname type", Err.PERSONAL_PRINCIPAL),
    (61052, "need to be certified", Err.NOT_VERIFIED),
    (61053, "realname exceed limits", Err.PRINCIPAL_LIMIT),
    (61054, "realname in black list", Err.BLACKLISTED),
    (61055, "exceed quota per month", Err.QUOTA_EXCEEDED),
    (61056, "copy_wx_verify is required option", Err.CERTIFICATION_REQUIRED),
    (61057, "fast register is in progress", Err.PENDING_EXISTS),  # no captured wire text found
    (61058, "invalid ticket", Err.SCAN_INVALID),
    (61028, "component is unpublished", Err.COMPONENT_UNPUBLISHED),
    (61029, "component need republish with base category", Err.COMPONENT_PERMISSIONS),
    (61060, "invalid redirect uri", Err.INVALID_REDIRECT),  # no captured wire text found
    (61061, "overseas access deny", Err.OVERSEAS),
    (61006, "component ticket is invalid", Err.INVALID_VERIFY_TICKET),
    (61009, "code is invalid", Err.INVALID_AUTH_CODE),
    (61010, "code is expired", Err.AUTH_CODE_EXPIRED),
]


@pytest.mark.parametrize(("errcode", "errmsg", "err"), WIRE_TABLE, ids=[str(r[0]) for r in WIRE_TABLE])
def test_errors_have_wechats_wire_errmsg_and_a_chinese_console_message(errcode: int, errmsg: str, err: Err) -> None:
    assert err.errcode == errcode
    error = DomainError(err)
    assert error.errcode == errcode
    assert error.errmsg == errmsg
    assert str(error) == f"{errcode} {errmsg}"
    assert any("\u4e00" <= char <= "\u9fff" for char in error.message("zh")), error.message("zh")


def test_every_errcode_is_unique() -> None:
    codes = [err.errcode for err in Err]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("err", "zh"),
    [
        (Err.PERSONAL_PRINCIPAL, "个人主体的公众号不支持快速注册小程序"),
        (Err.NOT_VERIFIED, "公众号未认证"),
        (Err.PENDING_EXISTS, "公众号仍有快速创建的账号在流程中"),
    ],
)
def test_console_messages_quoted_in_rules(err: Err, zh: str) -> None:
    assert DomainError(err).message() == zh
    assert DomainError(err).message("zh") == zh


@pytest.mark.parametrize("limit", [5, 1])
def test_quota_console_message_formats_the_limit(limit: int) -> None:
    error = DomainError(Err.QUOTA_EXCEEDED, limit=limit)
    assert error.message() == f"本月已复用资质创建{limit}个小程序,不可新增。"
    assert error.message("en") == f"This month's quota of {limit} fast-registered Mini Programs is used up."
    # The API text never changes with the limit.
    assert error.errmsg == "exceed quota per month"


def test_quota_console_messages_verbatim() -> None:
    assert DomainError(Err.QUOTA_EXCEEDED, limit=5).message() == "本月已复用资质创建5个小程序,不可新增。"
    assert DomainError(Err.QUOTA_EXCEEDED, limit=1).message() == "本月已复用资质创建1个小程序,不可新增。"


def test_link_limit_message_formats_the_limit() -> None:
    assert DomainError(Err.LINK_LIMIT, limit=13).message() == "本月新增关联小程序已达13个上限"


def test_every_console_message_exists_in_both_languages() -> None:
    for err in Err:
        assert err.value.zh.strip(), err
        assert err.value.en.strip(), err
        assert err.value.errmsg.strip() or err is Err.SYSTEM, err


def test_english_and_unknown_languages() -> None:
    error = DomainError(Err.NOT_VERIFIED)
    assert error.message("en") == "The Official Account is not verified"
    assert error.message("fr") == "公众号未认证"  # anything but English falls back to Chinese


def test_domain_error_carries_field_and_params() -> None:
    error = DomainError(Err.EMAIL_TAKEN, field="email")
    assert error.err is Err.EMAIL_TAKEN
    assert error.field == "email"
    assert error.params == {}
    assert DomainError(Err.QUOTA_EXCEEDED, limit=5).params == {"limit": 5}
    assert DomainError(Err.QUOTA_EXCEEDED).field is None


def test_domain_error_is_an_exception() -> None:
    with pytest.raises(DomainError) as raised:
        raise DomainError(Err.WRONG_STATE)
    assert raised.value.errcode == 91009
