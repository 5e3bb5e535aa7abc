"""The console wizard's use cases (steps 1 to 7) on the fake unit of work: no database, a fixed clock.
The completion itself (the MP, the quota spent atomically, the link) is proven against the database in
``tests/db/test_repositories_registrations.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import (
    AuditEvent,
    Identifier,
    MonthlyCounter,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
    Registration,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.services import confirmations, pushes, registration
from fastreg.services.registration import RegistrationView
from tests.fakes import CheapPasswords, FakeContext

NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def context() -> FakeContext:
    return FakeContext(clock=FixedClock(NOW))


def make_oa(
    context: FakeContext, principal_type: str = "enterprise", *, operator_email: str | None = None, **oa: object
) -> tuple[int, int]:
    """(operator id, OA id) of a new verified OA with one operator."""
    store = context.store
    principal = store.add(Principal(name=f"{principal_type} {len(store.all(Principal))}", type=principal_type))
    fields: dict[str, object] = {
        "appid": secrets.new_appid(),
        "secret_hash": "-",
        "original_id": secrets.new_original_id(),
        "name": "My <OA>",
        "principal_id": principal.id,
        "verify_expires_at": NOW + timedelta(days=365),
        "admin_wxid": secrets.new_wxid(),
        "created_at": NOW,
    }
    account = store.add(OfficialAccount(**{**fields, **oa}))
    email = operator_email or f"operator{account.id}@example.com"
    store.add(Identifier(value=email, kind="email"))
    operator = store.add(Operator(oa_id=account.id, email=email, password_hash="-", wxid="wxid_operator"))
    return operator.id, account.id


def oa_of(context: FakeContext, oa_id: int) -> OfficialAccount:
    found = context.store.first(OfficialAccount, lambda oa: oa.id == oa_id)
    assert found is not None
    return found


def scanned(context: FakeContext, operator_id: int, oa_id: int) -> RegistrationView:
    view = registration.start(context, operator_id)
    scan = registration.new_scan(context, oa_id, view.id)
    confirmations.answer(context, scan.id, oa_of(context, oa_id).admin_wxid, confirmations.CONFIRM)
    return registration.get(context, oa_id, view.id)


def to_pending(context: FakeContext, operator_id: int, oa_id: int, email: str = "mp@example.com") -> int:
    view = scanned(context, operator_id, oa_id)
    registration.choose_qualifications(context, oa_id, view.id, True, True)
    registration.submit_account(context, oa_id, view.id, email, "abc12345", "abc12345", "My MP")
    return view.id


def last_token(context: FakeContext) -> str:
    text = context.mailer.sent[-1][2]
    return next(line for line in text.splitlines() if "/activate/" in line).rsplit("/activate/", 1)[1].strip()


def audit_kinds(context: FakeContext) -> list[str]:
    return [event.kind for event in context.store.all(AuditEvent)]


def test_the_wizard_walks_steps_3_to_7_and_resumes_where_it_stands(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    view = registration.start(context, operator_id)
    assert (view.status, view.step) == ("draft", 3)
    assert registration.start(context, operator_id).id == view.id  # reload resumes, never duplicates
    scan = registration.new_scan(context, oa_id, view.id)
    assert registration.new_scan(context, oa_id, view.id).id == scan.id  # the same live code
    with pytest.raises(DomainError) as wrong:
        confirmations.answer(context, scan.id, "someone_else", confirmations.CONFIRM)
    assert wrong.value.err is Err.NOT_ALLOWED
    assert registration.scan_status(context, oa_id, view.id) == ("draft", "pending")
    confirmations.answer(context, scan.id, oa_of(context, oa_id).admin_wxid, confirmations.CONFIRM)
    current = registration.current(context, oa_id)
    assert current is not None and current.step == 4
    assert registration.choose_qualifications(context, oa_id, view.id, False, True).step == 5
    assert registration.back_to_qualifications(context, oa_id, view.id) is False
    assert registration.get(context, oa_id, view.id).step == 4
    registration.choose_qualifications(context, oa_id, view.id, True, True)
    submitted = registration.submit_account(context, oa_id, view.id, "New@Example.com", "abc12345", "abc12345", "X")
    assert (submitted.status, submitted.step, submitted.email, submitted.mp_name) == (
        "pending",
        6,
        "new@example.com",
        "X",
    )
    to, _, text, html = context.mailer.sent[-1]
    assert to == "new@example.com" and "My &lt;OA&gt;" in html and "My <OA>" in text
    assert registration.activate(context, last_token(context)).step == 7
    # Admin binding: a typed wxid wins over the reused operator; the same admin keeps the same code.
    bind = registration.bind_admin(context, oa_id, view.id, "admin_typed")
    assert bind.allowed_wxid == "admin_typed" and bind.payload["mp_name"] == "X"
    assert registration.bind_admin(context, oa_id, view.id, "admin_typed").id == bind.id
    other = registration.bind_admin(context, oa_id, view.id, "admin_other")
    assert other.id != bind.id and confirmations.describe(context, bind.id).status == "cancelled"
    assert registration.admin_status(context, oa_id, view.id) == ("pending", "pending")
    assert registration.completion_refusal(context, oa_id, view.id) is None
    assert audit_kinds(context) == [
        "registration_started",
        "scan_confirmed",
        "qualifications_chosen",
        "qualifications_chosen",
        "account_submitted",
        "activated",
    ]


def test_the_reused_operator_is_the_admin_when_none_is_typed(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id)
    registration.activate(context, last_token(context))
    assert registration.bind_admin(context, oa_id, reg_id, None).allowed_wxid == "wxid_operator"
    assert registration.bind_admin(context, oa_id, reg_id, "  ").allowed_wxid == "wxid_operator"


def test_the_password_is_hashed_before_the_transaction_opens(context: FakeContext) -> None:
    class OutsideOnly(CheapPasswords):
        def hash(self, password: str, *, sandbox_only_cheap: bool = False) -> str:
            assert context.open_uow is None, "argon2 ran inside the transaction"
            return super().hash(password)

    context._passwords = OutsideOnly()
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id)
    stored = context.store.first(Registration, lambda r: r.id == reg_id)
    assert stored is not None and stored.password_hash
    assert context.passwords.verify(stored.password_hash, "abc12345")


@pytest.mark.parametrize(
    ("email", "password", "confirm", "err"),
    [
        ("not-an-email", "abc12345", "abc12345", Err.EMAIL_INVALID),
        ("taken@example.com", "abc12345", "abc12345", Err.EMAIL_TAKEN),
        ("bound@example.com", "abc12345", "abc12345", Err.EMAIL_PERSONAL_WECHAT),
        ("ok@example.com", "short1", "short1", Err.PASSWORD_WEAK),
        ("ok@example.com", "abcdefghij", "abcdefghij", Err.PASSWORD_WEAK),
        ("ok@example.com", "abc12345", "abc12346", Err.PASSWORD_MISMATCH),
        ("taken@example.com", "short1", "short1", Err.EMAIL_TAKEN),  # the email is reported first
    ],
)
def test_account_info_is_validated_and_a_refusal_changes_nothing(
    context: FakeContext, email: str, password: str, confirm: str, err: Err
) -> None:
    make_oa(context, operator_email="taken@example.com")
    context.store.add(PersonalWechatEmail(email="bound@example.com"))
    operator_id, oa_id = make_oa(context)
    view = scanned(context, operator_id, oa_id)
    registration.choose_qualifications(context, oa_id, view.id, True, False)
    problems = registration.account_problems(context, email, password, confirm)
    assert problems and problems[0].err is err
    with pytest.raises(DomainError) as refused:
        registration.submit_account(context, oa_id, view.id, email, password, confirm)
    assert refused.value.err is err and refused.value.field in ("email", "password", "password_confirm")
    after = registration.get(context, oa_id, view.id)
    assert (after.status, after.step, after.email) == ("verified", 5, None)
    assert context.mailer.sent == []
    assert context.store.first(Identifier, lambda i: i.value == "ok@example.com") is None


def test_government_must_reuse_certification(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context, "government")
    view = scanned(context, operator_id, oa_id)
    assert view.certification_locked
    with pytest.raises(DomainError) as refused:
        registration.choose_qualifications(context, oa_id, view.id, False, False)
    assert refused.value.errcode == 61056
    assert registration.get(context, oa_id, view.id).step == 4


@pytest.mark.parametrize(
    ("principal_type", "oa_fields", "errcode"),
    [
        ("personal", {}, 61051),
        ("enterprise", {"verified": False}, 61052),
        ("enterprise", {"verify_expires_at": NOW}, 61052),
        ("enterprise", {"overseas": True}, 61061),
    ],
)
def test_an_ineligible_oa_cannot_start_and_the_refusal_is_audited(
    context: FakeContext, principal_type: str, oa_fields: dict[str, Any], errcode: int
) -> None:
    operator_id, oa_id = make_oa(context, principal_type, **oa_fields)
    refusal = registration.eligibility(context, oa_id)
    assert refusal is not None and refusal.errcode == errcode
    with pytest.raises(DomainError) as refused:
        registration.start(context, operator_id)
    assert refused.value.errcode == errcode
    assert context.store.all(Registration) == []
    assert audit_kinds(context) == ["refused"]
    assert context.observer.registrations == [("refused", errcode)]


def test_the_month_s_quota_used_up_refuses_with_its_limit(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context, "individual_business")
    context.store.add(MonthlyCounter(oa_id=oa_id, kind="registration", month="2026-11", used=1))
    with pytest.raises(DomainError) as refused:
        registration.start(context, operator_id)
    assert refused.value.errcode == 61055
    assert refused.value.message() == "本月已复用资质创建1个小程序,不可新增。"
    assert audit_kinds(context) == ["quota_refused"]
    context.clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # December in Shanghai
    assert registration.start(context, operator_id).step == 3


def test_a_pending_registration_of_the_oa_blocks_another(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    view = scanned(context, operator_id, oa_id)
    registration.choose_qualifications(context, oa_id, view.id, True, False)
    # Meanwhile the Open API channel holds a pending registration for the same OA.
    context.store.add(Registration(oa_id=oa_id, channel="open_api", status="pending", created_at=NOW, updated_at=NOW))
    with pytest.raises(DomainError) as refused:
        registration.submit_account(context, oa_id, view.id, "mp@example.com", "abc12345", "abc12345")
    assert refused.value.errcode == 61057
    assert registration.get(context, oa_id, view.id).status == "verified"
    assert registration.eligibility(context, oa_id) is not None


def test_activation_link_is_single_use_expires_and_a_resend_replaces_it(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id)
    first = last_token(context)
    with pytest.raises(DomainError) as too_soon:
        registration.resend_activation(context, oa_id, reg_id)
    assert too_soon.value.err is Err.RESEND_TOO_SOON
    context.clock.advance(61)
    registration.resend_activation(context, oa_id, reg_id)
    second = last_token(context)
    with pytest.raises(DomainError) as old:
        registration.activate(context, first)
    assert old.value.err is Err.ACTIVATION_INVALID
    context.clock.advance(48 * 3600)
    with pytest.raises(DomainError) as expired:
        registration.activate(context, second)
    assert expired.value.err is Err.ACTIVATION_EXPIRED
    context.clock.advance(-48 * 3600)
    registration.activate(context, second)
    with pytest.raises(DomainError) as reused:
        registration.activate(context, second)
    assert reused.value.err is Err.ACTIVATION_INVALID
    with pytest.raises(DomainError) as unknown:
        registration.activate(context, "not-a-token")
    assert unknown.value.err is Err.ACTIVATION_INVALID


def test_change_email_shares_the_resend_limit_and_releases_the_old_address(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id, "first@example.com")
    assert registration.change_email(context, oa_id, reg_id, " First@Example.com ") is False
    with pytest.raises(DomainError) as too_soon:
        registration.change_email(context, oa_id, reg_id, "second@example.com")
    assert (too_soon.value.err, too_soon.value.field) == (Err.RESEND_TOO_SOON, "email")
    assert len(context.mailer.sent) == 1
    context.clock.advance(61)
    assert registration.change_email(context, oa_id, reg_id, "second@example.com") is True
    assert [to for to, *_ in context.mailer.sent] == ["first@example.com", "second@example.com"]
    emails = {i.value for i in context.store.all(Identifier)}
    assert "second@example.com" in emails and "first@example.com" not in emails
    assert audit_kinds(context)[-1] == "email_changed"


def test_cancel_releases_the_email_and_a_new_registration_may_start(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id, "again@example.com")
    assert registration.cancel(context, oa_id, reg_id).status == "cancelled"
    assert registration.current(context, oa_id) is None
    second = to_pending(context, operator_id, oa_id, "again@example.com")
    assert second != reg_id


def test_an_open_registration_untouched_for_the_ttl_expires_and_releases_its_email(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id, "stale@example.com")
    context.clock.advance(7 * 24 * 3600 - 1)
    assert registration.current(context, oa_id) is not None
    context.clock.advance(1)
    assert registration.current(context, oa_id) is None  # counted expired by its time; the page writes nothing
    assert registration.get(context, oa_id, reg_id).status == "pending"
    assert pushes.sweep_expired(context) == 1  # the worker's sweep closes it
    assert registration.get(context, oa_id, reg_id).status == "expired"
    assert context.store.first(Identifier, lambda i: i.value == "stale@example.com") is None
    assert audit_kinds(context)[-1] == "expired"


def test_another_oa_cannot_see_or_touch_a_registration(context: FakeContext) -> None:
    operator_a, oa_a = make_oa(context)
    _, oa_b = make_oa(context)
    reg_id = to_pending(context, operator_a, oa_a)
    for action in (
        lambda: registration.get(context, oa_b, reg_id),
        lambda: registration.cancel(context, oa_b, reg_id),
        lambda: registration.resend_activation(context, oa_b, reg_id),
        lambda: registration.bind_admin(context, oa_b, reg_id, "wxid_x1234"),
    ):
        with pytest.raises(DomainError) as refused:
            action()
        assert refused.value.err is Err.NOT_FOUND
    assert registration.get(context, oa_a, reg_id).status == "pending"


def test_a_refused_step_rolls_back_what_it_wrote(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id, "kept@example.com")
    context.clock.advance(61)
    make_oa(context, operator_email="busy@example.com")
    with pytest.raises(DomainError):
        registration.change_email(context, oa_id, reg_id, "busy@example.com")
    assert registration.get(context, oa_id, reg_id).email == "kept@example.com"
    assert context.store.first(Identifier, lambda i: i.value == "kept@example.com") is not None


def test_completion_needs_the_scan_of_the_oa_s_current_admin(context: FakeContext) -> None:
    """rules.md's 61058 at completion: a scan confirmed by someone who is no longer the OA's admin is refused."""
    operator_id, oa_id = make_oa(context)
    reg_id = to_pending(context, operator_id, oa_id)
    registration.activate(context, last_token(context))
    registration.bind_admin(context, oa_id, reg_id, "wxid_new_admin")
    assert registration.completion_refusal(context, oa_id, reg_id) is None
    oa_of(context, oa_id).admin_wxid = "wxid_successor"
    refusal = registration.completion_refusal(context, oa_id, reg_id)
    assert refusal is not None and refusal.errcode == 61058


def test_a_cancelled_or_expired_scan_is_closed_and_a_new_code_can_be_made(context: FakeContext) -> None:
    operator_id, oa_id = make_oa(context)
    admin = oa_of(context, oa_id).admin_wxid
    view = registration.start(context, operator_id)
    first = registration.new_scan(context, oa_id, view.id)
    assert confirmations.answer(context, first.id, admin, confirmations.CANCEL).status == "cancelled"
    assert registration.get(context, oa_id, view.id).status == "draft"
    assert audit_kinds(context)[-1] == "scan_cancelled"
    with pytest.raises(DomainError) as closed:
        confirmations.answer(context, first.id, admin, confirmations.CONFIRM)
    assert closed.value.err is Err.CONFIRMATION_CLOSED
    second = registration.new_scan(context, oa_id, view.id)  # the cancelled code is replaced
    assert second.id != first.id
    context.clock.advance(context.settings.confirmation_ttl_seconds)
    assert registration.scan_status(context, oa_id, view.id) == ("draft", "expired")
    with pytest.raises(DomainError) as expired:
        confirmations.answer(context, second.id, admin, confirmations.CONFIRM)
    assert expired.value.err is Err.CONFIRMATION_CLOSED
    third = registration.new_scan(context, oa_id, view.id)
    confirmations.answer(context, third.id, admin, confirmations.CONFIRM)
    assert registration.get(context, oa_id, view.id).step == 4
    assert [c.status for c in confirmations.list_for(context, admin, None)] == ["cancelled", "expired", "confirmed"]


def test_quota_status_counts_the_shanghai_month(context: FakeContext) -> None:
    from fastreg.services.quota import quota_status

    _, oa_id = make_oa(context)
    context.store.add(MonthlyCounter(oa_id=oa_id, kind="registration", month="2026-11", used=2))
    with context.uow() as uow:
        status = quota_status(uow, oa_of(context, oa_id), datetime(2026, 11, 30, 15, 59, tzinfo=UTC), context)
        assert (status.month, status.limit, status.used, status.remaining) == ("2026-11", 5, 2, 3)
        december = quota_status(uow, oa_of(context, oa_id), datetime(2026, 11, 30, 16, 0, tzinfo=UTC), context)
        assert (december.month, december.used) == ("2026-12", 0)
