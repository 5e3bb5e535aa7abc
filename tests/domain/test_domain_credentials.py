"""Console-channel inputs (rules.md, "Email"): email format, normalization, uniqueness and personal-WeChat rules,
the password rule and its confirmation, the admin wxid, and the login lockout threshold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.rules import (
    ensure_email_available,
    login_locked,
    normalize_email,
    password_problems,
    validate_email_format,
    validate_password,
    validate_wxid,
)
from fastreg.domain.secrets import new_wxid

# ---------------------------------------------------------------- email format and normalization


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("dev@example.com", "dev@example.com"),
        ("  Dev.Team@Example.COM \t", "dev.team@example.com"),
        ("first.last+tag@mail.sub.example.cn", "first.last+tag@mail.sub.example.cn"),
        ("user_name%x@ex-ample.com", "user_name%x@ex-ample.com"),
        ("a@b.co", "a@b.co"),
        ("123@qq.com", "123@qq.com"),
        ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
    ],
)
def test_valid_emails_are_normalized(raw: str, normalized: str) -> None:
    assert validate_email_format(raw) == normalized
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "plain",
        "a@b",
        "a@b.c",  # one-letter top-level domain
        "a@b.c0m",
        "a@@b.com",
        "a b@c.com",
        "@b.com",
        "a@",
        "a@.com",
        "a@b..com",
        "a..b@c.com",
        ".a@b.com",  # a local part may not start with a dot
        "a.@b.com",  # ... nor end with one
        "a@-b.com",  # a domain label may not start with a hyphen
        "a@b-.com",  # ... nor end with one
        "a@b.com.",
        "a@b_c.com",
        "a<b@c.com",
        "a@b.com\nx",
        "x" * 65 + "@example.com",  # local part longer than 64
        "a@" + "b" * 64 + ".com",  # domain label longer than 63
        "a@" + "b" * 250 + ".com",  # longer than 254
    ],
)
def test_invalid_emails_are_refused_next_to_the_email_field(raw: str) -> None:
    with pytest.raises(DomainError) as raised:
        validate_email_format(raw)
    assert raised.value.err is Err.EMAIL_INVALID
    assert raised.value.field == "email"
    assert raised.value.message() == "邮箱格式不正确"


@settings(max_examples=50)
@given(st.emails())
def test_normalization_is_idempotent_and_case_insensitive(email: str) -> None:
    normalized = normalize_email(email)
    assert normalize_email(normalized) == normalized
    assert normalize_email(email.upper()) == normalized
    assert normalize_email(f"  {email}  ") == normalized


@settings(max_examples=50)
@given(
    st.from_regex(
        r"[a-z0-9]{1,20}(\.[a-z0-9_+-]{1,10}){0,2}@[a-z0-9]{1,20}(\.[a-z0-9]{1,10})?\.[a-z]{2,6}", fullmatch=True
    )
)
def test_ordinary_addresses_are_accepted_unchanged(email: str) -> None:
    assert validate_email_format(email) == email
    assert validate_email_format(email.upper()) == email


# ---------------------------------------------------------------- uniqueness and personal WeChat


def test_an_email_used_anywhere_on_the_platform_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        ensure_email_available("dev@example.com", used_on_platform=True, bound_to_personal_wechat=False)
    assert raised.value.err is Err.EMAIL_TAKEN
    assert raised.value.field == "email"
    assert raised.value.message() == "该邮箱已被占用，请使用其他邮箱"


def test_an_email_bound_to_a_personal_wechat_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        ensure_email_available("dev@example.com", used_on_platform=False, bound_to_personal_wechat=True)
    assert raised.value.err is Err.EMAIL_PERSONAL_WECHAT
    assert raised.value.field == "email"
    assert raised.value.message() == "该邮箱已绑定个人微信号，请使用其他邮箱"


def test_taken_is_reported_before_personal_wechat() -> None:
    with pytest.raises(DomainError) as raised:
        ensure_email_available("dev@example.com", used_on_platform=True, bound_to_personal_wechat=True)
    assert raised.value.err is Err.EMAIL_TAKEN


def test_a_free_email_is_available() -> None:
    ensure_email_available("dev@example.com", used_on_platform=False, bound_to_personal_wechat=False)


def test_uniqueness_is_decided_on_the_normalized_address() -> None:
    used = {validate_email_format(e) for e in ("oa-admin@example.com", "Operator@Example.com")}
    personal = {validate_email_format("Someone@WeChat.example.com")}
    for attempt, taken, bound in [
        (" OA-Admin@EXAMPLE.com ", True, False),
        ("operator@example.com", True, False),
        ("someone@wechat.example.com", False, True),
        ("new.mp@example.com", False, False),
    ]:
        email = validate_email_format(attempt)
        assert (email in used, email in personal) == (taken, bound)
        if taken or bound:
            with pytest.raises(DomainError):
                ensure_email_available(
                    email, used_on_platform=email in used, bound_to_personal_wechat=email in personal
                )
        else:
            ensure_email_available(email, used_on_platform=False, bound_to_personal_wechat=False)


# ---------------------------------------------------------------- passwords


@pytest.mark.parametrize(
    "password", ["abcd1234", "Abcdefg1", "1234567a", "a1!@#$%^", "long password 2026", "密码Pass1234"]
)
def test_strong_enough_passwords(password: str) -> None:
    validate_password(password)
    validate_password(password, password)


@pytest.mark.parametrize(
    "password",
    ["", "abc1234", "a1", "abcdefgh", "ABCDEFGHIJ", "12345678", "1234567890123", "!@#$%^&*()", "密码密码密码密码1"],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(DomainError) as raised:
        validate_password(password)
    assert raised.value.err is Err.PASSWORD_WEAK
    assert raised.value.field == "password"
    assert raised.value.message() == "密码至少8位，且须同时包含字母和数字"


def test_password_problems_lists_every_refusal() -> None:
    both = password_problems("short", "shorter")
    assert [(p.err, p.field) for p in both] == [
        (Err.PASSWORD_WEAK, "password"),
        (Err.PASSWORD_MISMATCH, "password_confirm"),
    ]
    assert [p.err for p in password_problems("short", "short")] == [Err.PASSWORD_WEAK]
    assert password_problems("abcd1234", "abcd1234") == password_problems("abcd1234") == []
    with pytest.raises(DomainError) as first:  # validate_password refuses the first of them
        validate_password("short", "shorter")
    assert first.value.err is Err.PASSWORD_WEAK


def test_confirmation_must_match() -> None:
    with pytest.raises(DomainError) as raised:
        validate_password("abcd1234", "abcd1235")
    assert raised.value.err is Err.PASSWORD_MISMATCH
    assert raised.value.field == "password_confirm"
    assert raised.value.message() == "两次输入的密码不一致"
    with pytest.raises(DomainError) as raised:
        validate_password("abcd1234", "")
    assert raised.value.err is Err.PASSWORD_MISMATCH
    with pytest.raises(DomainError) as raised:
        validate_password("abcd1234", "ABCD1234")  # case matters
    assert raised.value.err is Err.PASSWORD_MISMATCH


def test_weak_password_is_reported_before_a_mismatch() -> None:
    with pytest.raises(DomainError) as raised:
        validate_password("short1", "other")
    assert raised.value.err is Err.PASSWORD_WEAK


@given(
    st.text(alphabet="abcdefghijXYZ", min_size=1, max_size=20), st.text(alphabet="0123456789", min_size=1, max_size=20)
)
def test_password_rule_is_length_letters_and_digits(letters: str, digits: str) -> None:
    password = letters + digits
    if len(password) >= 8:
        validate_password(password)
    else:
        with pytest.raises(DomainError):
            validate_password(password)
    with pytest.raises(DomainError):
        validate_password(letters * 8)  # no digit
    with pytest.raises(DomainError):
        validate_password(digits * 8)  # no letter


# ---------------------------------------------------------------- wxid


@pytest.mark.parametrize(
    ("raw", "wxid"),
    [
        ("alice", "alice"),
        ("  alice_01 ", "alice_01"),
        ("wxid_0123456789abcd", "wxid_0123456789abcd"),
        ("A-b_c", "A-b_c"),
        ("abcd", "abcd"),  # shortest accepted
        ("a" * 40, "a" * 40),  # longest accepted
    ],
)
def test_valid_wxids(raw: str, wxid: str) -> None:
    assert validate_wxid(raw) == wxid


@pytest.mark.parametrize(
    "raw", ["", "   ", "abc", "a" * 41, "1abcdef", "_abcdef", "-abcdef", "ab cd", "ab.cd", "微信号abc", "al\nice"]
)
def test_invalid_wxids(raw: str) -> None:
    with pytest.raises(DomainError) as raised:
        validate_wxid(raw)
    assert raised.value.err is Err.WXID_INVALID
    assert raised.value.field == "admin_wxid"
    assert raised.value.message() == "请填写正确的微信号"


def test_generated_wxids_are_valid() -> None:
    for _ in range(200):
        wxid = new_wxid()
        assert validate_wxid(wxid) == wxid


# ---------------------------------------------------------------- login lockout


def test_login_locks_at_the_maximum_number_of_failures() -> None:
    assert not login_locked(0, 5)
    assert not login_locked(4, 5)
    assert login_locked(5, 5)
    assert login_locked(6, 5)
