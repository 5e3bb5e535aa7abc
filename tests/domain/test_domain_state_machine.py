"""The registration state machine (rules.md, "Registration state machine") and expiry of open registrations."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from domain_fakes import NOW, clock

from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import OPEN_STATUSES, RegistrationStatus
from fastreg.domain.rules import is_expired, next_status

S = RegistrationStatus
ALLOWED = {
    (S.DRAFT, "scan_confirmed"): S.VERIFIED,
    (S.VERIFIED, "account_submitted"): S.PENDING,
    (S.PENDING, "completed"): S.COMPLETED,
    (S.DRAFT, "cancel"): S.CANCELLED,
    (S.VERIFIED, "cancel"): S.CANCELLED,
    (S.PENDING, "cancel"): S.CANCELLED,
    (S.DRAFT, "expire"): S.EXPIRED,
    (S.VERIFIED, "expire"): S.EXPIRED,
    (S.PENDING, "expire"): S.EXPIRED,
}
EVENTS = ["scan_confirmed", "account_submitted", "completed", "cancel", "expire", "activated", "admin_bound", ""]
FORBIDDEN = [pair for pair in itertools.product(list(S), EVENTS) if pair not in ALLOWED]
PENDING_TTL = 7 * 24 * 3600


@pytest.mark.parametrize(("current", "event"), list(ALLOWED), ids=[f"{s}-{e}" for s, e in ALLOWED])
def test_every_allowed_transition(current: RegistrationStatus, event: str) -> None:
    assert next_status(current, event) is ALLOWED[(current, event)]
    assert next_status(current.value, event) is ALLOWED[(current, event)]  # plain strings, as stored


@pytest.mark.parametrize(("current", "event"), FORBIDDEN, ids=[f"{s}-{e or 'empty'}" for s, e in FORBIDDEN])
def test_every_other_transition_is_refused(current: RegistrationStatus, event: str) -> None:
    with pytest.raises(DomainError) as raised:
        next_status(current, event)
    assert raised.value.err is Err.WRONG_STATE
    assert raised.value.errcode == 91009


@pytest.mark.parametrize("status", ["", "archived", "DRAFT", "Pending"])
def test_unknown_states_are_refused(status: str) -> None:
    with pytest.raises(DomainError) as raised:
        next_status(status, "cancel")
    assert raised.value.err is Err.WRONG_STATE


def test_the_happy_path_of_the_console_wizard() -> None:
    status = S.DRAFT
    for event in ("scan_confirmed", "account_submitted", "completed"):
        status = next_status(status, event)
    assert status is S.COMPLETED


@pytest.mark.parametrize("terminal", [S.COMPLETED, S.CANCELLED, S.EXPIRED])
def test_terminal_states_have_no_way_out(terminal: RegistrationStatus) -> None:
    for event in EVENTS:
        with pytest.raises(DomainError):
            next_status(terminal, event)


def test_steps_cannot_be_skipped() -> None:
    for current, event in [(S.DRAFT, "account_submitted"), (S.DRAFT, "completed"), (S.VERIFIED, "completed")]:
        with pytest.raises(DomainError):
            next_status(current, event)


def test_open_statuses_are_the_ones_that_can_be_cancelled() -> None:
    assert {s for s in S if (s, "cancel") in ALLOWED} == set(OPEN_STATUSES)
    assert {s for s in S if (s, "expire") in ALLOWED} == set(OPEN_STATUSES)


# ---------------------------------------------------------------- expiry


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_open_registration_expires_after_its_time_to_live(status: str) -> None:
    fake = clock(NOW)
    since = fake.now()
    fake.advance(PENDING_TTL - 1)
    assert not is_expired(status, since, fake.now(), PENDING_TTL)
    fake.advance(1)  # exactly 7 days
    assert is_expired(status, since, fake.now(), PENDING_TTL)
    fake.advance(3600)
    assert is_expired(status, since, fake.now(), PENDING_TTL)


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED, S.EXPIRED])
def test_closed_registrations_never_expire(status: str) -> None:
    assert not is_expired(status, NOW, NOW + timedelta(days=365), PENDING_TTL)


def test_expiry_time_to_live_is_configurable() -> None:
    assert not is_expired(S.PENDING, NOW, NOW + timedelta(seconds=59), 60)
    assert is_expired(S.PENDING, NOW, NOW + timedelta(seconds=60), 60)


def test_expiry_reads_naive_database_values_as_utc() -> None:
    naive_since = NOW.replace(tzinfo=None)
    assert not is_expired("pending", naive_since, NOW + timedelta(days=7, seconds=-1), PENDING_TTL)
    assert is_expired("pending", naive_since, NOW + timedelta(days=7), PENDING_TTL)


def test_an_expired_pending_registration_moves_to_expired() -> None:
    since = NOW
    now = NOW + timedelta(days=8)
    assert is_expired(S.PENDING, since, now, PENDING_TTL)
    assert next_status(S.PENDING, "expire") is S.EXPIRED
