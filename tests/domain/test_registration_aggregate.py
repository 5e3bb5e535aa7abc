"""The registration aggregate: its transitions (rules.md's state machine) and the wizard step it is at
(console.md's seven steps), without any storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from fastreg.domain.entities import Confirmation
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.registration import DONE_STEP, Registration

NOW = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
TTL = 7 * 24 * 3600


def draft() -> Registration:
    registration = Registration.start(oa_id=1, operator_id=2, now=NOW)
    registration.ask_scan("scan-1", NOW)
    return registration


def verified() -> Registration:
    registration = draft()
    registration.confirm_scan("scan-1", NOW)
    return registration


def chosen(principal_type: str = "enterprise") -> Registration:
    registration = verified()
    registration.choose_qualifications(
        reuse_certification=True, reuse_operator=False, principal_type=principal_type, now=NOW
    )
    return registration


def pending() -> Registration:
    registration = chosen()
    registration.submit_account(email="mp@example.com", password_hash="hash", mp_name=None, now=NOW)
    return registration


def activated() -> Registration:
    registration = pending()
    registration.activate(NOW)
    return registration


def bound() -> Registration:
    registration = activated()
    registration.bind_admin("wxid_admin", "admin-1", NOW)
    return registration


def completed() -> Registration:
    registration = bound()
    registration.complete(mp_id=9, admin_wxid="wxid_admin", now=NOW)
    return registration


def test_each_state_is_at_its_wizard_step() -> None:
    assert [r().step for r in (draft, verified, chosen, pending, activated, bound, completed)] == [
        3,
        4,
        5,
        6,
        7,
        7,
        DONE_STEP,
    ]
    assert [r().status for r in (draft, verified, pending, completed)] == ["draft", "verified", "pending", "completed"]


def test_completion_records_the_mp_and_the_admin() -> None:
    registration = completed()
    assert (registration.mp_id, registration.admin_wxid, registration.completed_at) == (9, "wxid_admin", NOW)
    assert not registration.is_open


def test_only_the_current_scan_confirms() -> None:
    registration = draft()
    registration.ask_scan("scan-2", NOW)  # a refreshed code replaces the first
    with pytest.raises(DomainError) as closed:
        registration.confirm_scan("scan-1", NOW)
    assert closed.value.err is Err.CONFIRMATION_CLOSED
    assert registration.status == "draft"


@pytest.mark.parametrize("principal_type", ["government", "media", "other_org"])
def test_certification_reuse_is_mandatory_for_some_principals(principal_type: str) -> None:
    registration = verified()
    with pytest.raises(DomainError) as refused:
        registration.choose_qualifications(
            reuse_certification=False, reuse_operator=True, principal_type=principal_type, now=NOW
        )
    assert refused.value.errcode == 61056
    assert registration.step == 4 and registration.reuse_certification is None
    assert chosen(principal_type).step == 5


def test_back_returns_to_step_4_with_the_choice_made() -> None:
    registration = chosen()
    assert registration.back() is True
    assert registration.step == 4 and registration.status == "verified"
    with pytest.raises(DomainError):
        registration.back()


Transition = Callable[[Registration], object]
TRANSITIONS: dict[str, Transition] = {
    "ask_scan": lambda r: r.ask_scan("scan-9", NOW),
    "choose_qualifications": lambda r: r.choose_qualifications(
        reuse_certification=True, reuse_operator=False, principal_type="enterprise", now=NOW
    ),
    "back": lambda r: r.back(),
    "submit_account": lambda r: r.submit_account(email="x@example.com", password_hash="h", mp_name=None, now=NOW),
    "send_activation": lambda r: r.send_activation(NOW + timedelta(hours=1), interval_seconds=60),
    "change_email": lambda r: r.change_email("y@example.com", NOW),
    "bind_admin": lambda r: r.bind_admin("wxid_other", "admin-2", NOW),
    "complete": lambda r: r.complete(mp_id=1, admin_wxid="wxid_admin", now=NOW),
    "cancel": lambda r: r.cancel(NOW),
}
# Where each transition is allowed; everywhere else it is refused and changes nothing.
ALLOWED: dict[str, set[str]] = {
    "ask_scan": {"draft"},
    "choose_qualifications": {"verified", "chosen"},
    "back": {"chosen"},
    "submit_account": {"chosen"},
    "send_activation": {"pending"},
    "change_email": {"pending"},
    "bind_admin": {"activated", "bound"},
    "complete": {"bound"},
    "cancel": {"draft", "verified", "chosen", "pending", "activated", "bound"},
}
STATES: dict[str, Callable[[], Registration]] = {
    "draft": draft,
    "verified": verified,
    "chosen": chosen,
    "pending": pending,
    "activated": activated,
    "bound": bound,
    "completed": completed,
}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("transition", list(TRANSITIONS))
def test_transitions_are_refused_out_of_their_step(state: str, transition: str) -> None:
    registration = STATES[state]()
    if state in ALLOWED[transition]:
        TRANSITIONS[transition](registration)
        return
    before = dict(vars(registration))
    with pytest.raises(DomainError) as refused:
        TRANSITIONS[transition](registration)
    assert refused.value.err in (Err.WRONG_STATE, Err.CONFIRMATION_CLOSED)
    assert vars(registration) == before


def test_cancel_closes_an_open_registration_and_hands_back_its_email() -> None:
    registration = pending()
    assert registration.cancel(NOW) == "mp@example.com"
    assert registration.status == "cancelled" and registration.step == DONE_STEP
    assert draft().cancel(NOW) is None


def test_expiry_only_after_the_time_to_live_untouched() -> None:
    registration = pending()
    just_before = NOW + timedelta(seconds=TTL - 1)
    assert not registration.is_stale(just_before, TTL)
    with pytest.raises(DomainError):
        registration.expire(just_before, TTL)
    assert registration.expire(NOW + timedelta(seconds=TTL), TTL) == "mp@example.com"
    assert registration.status == "expired"
    with pytest.raises(DomainError):
        completed().expire(NOW + timedelta(days=30), TTL)


def test_activation_mail_at_most_once_a_minute() -> None:
    registration = pending()
    registration.send_activation(NOW, interval_seconds=60)
    with pytest.raises(DomainError) as too_soon:
        registration.send_activation(NOW + timedelta(seconds=59), interval_seconds=60, field="email")
    assert (too_soon.value.err, too_soon.value.field) == (Err.RESEND_TOO_SOON, "email")
    registration.send_activation(NOW + timedelta(seconds=60), interval_seconds=60)
    assert registration.activation_sent_at == NOW + timedelta(seconds=60)


def test_activation_needs_a_pending_registration() -> None:
    registration = chosen()
    with pytest.raises(DomainError) as refused:
        registration.activate(NOW)
    assert refused.value.err is Err.ACTIVATION_INVALID
    assert not registration.activated


def test_change_email_returns_the_address_to_release() -> None:
    registration = pending()
    assert registration.change_email("new@example.com", NOW) == "mp@example.com"
    assert registration.email == "new@example.com"


def test_only_the_current_admin_invitation_completes() -> None:
    registration = bound()
    registration.bind_admin("wxid_second", "admin-2", NOW)
    with pytest.raises(DomainError) as closed:
        registration.ensure_admin_confirmation("admin-1")
    assert closed.value.err is Err.CONFIRMATION_CLOSED
    registration.ensure_admin_confirmation("admin-2")


def scan(confirmation_id: str = "scan-1", status: str = "confirmed", wxid: str = "wxid_admin") -> Confirmation:
    return Confirmation(
        id=confirmation_id,
        kind="registration_scan",
        account_appid="wx0000000000000000",
        allowed_wxid=wxid,
        status=status,
        payload={},
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=10),
    )


@pytest.mark.parametrize(
    ("confirmation", "valid"),
    [
        (scan(), True),
        (None, False),  # missing
        (scan(status="cancelled"), False),
        (scan(status="pending"), False),
        (scan("scan-0"), False),  # not the registration's current scan
        (scan(wxid="wxid_former_admin"), False),  # made by someone who is not the OA's admin
    ],
)
def test_the_scan_counts_only_when_confirmed_by_the_oa_s_admin(confirmation: Confirmation | None, valid: bool) -> None:
    assert bound().scan_valid(confirmation, "wxid_admin") is valid
