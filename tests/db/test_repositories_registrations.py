"""The console wizard against the SQL repositories, on SQLite and PostgreSQL (the fake clock): what the
database guarantees (the completion's atomic quota and principal counts, the single pending registration, the
released emails, hashed activation links) and the completion, which runs on the hot path's prepared statements.
The wizard's rules themselves are tested on the fake unit of work in ``tests/services/test_registration.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fastreg.adapters.db import counters
from fastreg.adapters.db.models import AuditEvent, Link, MiniProgram, Operator, Registration
from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind
from fastreg.platform import Platform
from fastreg.services import confirmations, registration
from fastreg.services.accounts import NewOfficialAccount
from fastreg.services.pushes import send_due_mail, sweep_expired
from fastreg.services.quota import quota_status
from tests.db.helpers import make_oa


class Outbox:
    """The mailer; reading what was sent first lets the worker send the queued mail (the outbox)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.delivered: list[tuple[str, str, str]] = []

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        self.delivered.append((to, subject, text))

    @property
    def sent(self) -> list[tuple[str, str, str]]:
        send_due_mail(self.platform)
        return self.delivered

    def last_token(self) -> str:
        url = next(line for line in self.sent[-1][2].splitlines() if "/activate/" in line)
        return url.rsplit("/activate/", 1)[1].strip()


@pytest.fixture
def outbox(platform: Platform) -> Outbox:
    box = Outbox(platform)
    platform.mailer = box
    return box


def ids(platform: Platform, oa: NewOfficialAccount) -> tuple[int, int]:
    with platform.uow(readonly=True) as uow:
        operator = uow.session.execute(select(Operator).where(Operator.email == oa.operator_email)).scalar_one()
        return operator.id, operator.oa_id


def walk_to_pending(platform: Platform, oa: NewOfficialAccount, email: str, *, reuse_cert: bool = True) -> int:
    operator_id, oa_id = ids(platform, oa)
    view = registration.start(platform, operator_id)
    scan = registration.new_scan(platform, oa_id, view.id)
    confirmations.answer(platform, scan.id, oa.admin_wxid, "confirm")
    registration.choose_qualifications(platform, oa_id, view.id, reuse_cert, True)
    registration.submit_account(platform, oa_id, view.id, email, "abc12345", "abc12345", "My MP")
    return view.id


def complete_one(platform: Platform, outbox: Outbox, oa: NewOfficialAccount, email: str) -> str:
    reg_id = walk_to_pending(platform, oa, email)
    _, oa_id = ids(platform, oa)
    registration.activate(platform, outbox.last_token())
    bind = registration.bind_admin(platform, oa_id, reg_id, "admin_new1")
    confirmations.answer(platform, bind.id, "admin_new1", "confirm")
    view = registration.get(platform, oa_id, reg_id)
    assert view.status == "completed" and view.mp_appid
    return view.mp_appid


def used_quota(platform: Platform, oa: NewOfficialAccount) -> int:
    with platform.uow(readonly=True) as uow:
        oa_row = uow.accounts.official_account(oa.appid)
        return quota_status(uow, oa_row, uow.clock.now(), platform).used


def test_whole_wizard_creates_certified_linked_mp(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform)
    operator_id, oa_id = ids(platform, oa)
    view = registration.start(platform, operator_id)
    assert (view.status, view.step) == ("draft", 3)
    assert registration.start(platform, operator_id).id == view.id  # reload resumes, never duplicates
    scan = registration.new_scan(platform, oa_id, view.id)
    assert registration.new_scan(platform, oa_id, view.id).id == scan.id
    with pytest.raises(DomainError) as wrong:
        confirmations.answer(platform, scan.id, "someone_else", "confirm")
    assert wrong.value.err is Err.NOT_ALLOWED
    confirmations.answer(platform, scan.id, oa.admin_wxid, "confirm")
    assert registration.get(platform, oa_id, view.id).step == 4
    registration.choose_qualifications(platform, oa_id, view.id, True, True)
    submitted = registration.submit_account(platform, oa_id, view.id, "New@Example.com", "abc12345", "abc12345", "X")
    assert (submitted.status, submitted.step, submitted.email) == ("pending", 6, "new@example.com")
    assert outbox.sent[-1][0] == "new@example.com"
    activated = registration.activate(platform, outbox.last_token())
    assert activated.step == 7
    # Admin binding precedence: a typed wxid wins over the reused operator.
    bind = registration.bind_admin(platform, oa_id, view.id, "admin_typed")
    assert bind.allowed_wxid == "admin_typed"
    confirmations.answer(platform, bind.id, "admin_typed", "confirm")
    done = registration.get(platform, oa_id, view.id)
    assert done.status == "completed" and done.mp_certified and done.step == registration.DONE_STEP
    with platform.uow(readonly=True) as uow:
        mp = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == done.mp_appid)).scalar_one()
        link = uow.session.execute(select(Link).where(Link.mp_id == mp.id)).scalar_one()
        oa_row = uow.accounts.official_account(oa.appid)
    assert mp.active and mp.admin_wxid == "admin_typed" and mp.principal_id == oa_row.principal_id
    assert mp.certified_until == oa_row.verify_expires_at
    assert (link.linked_via, link.show_profile, link.notify_users) == ("fast_register", False, False)
    assert used_quota(platform, oa) == 1


def test_reused_operator_is_the_admin_when_none_typed(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform)
    reg_id = walk_to_pending(platform, oa, "op@example.com")
    _, oa_id = ids(platform, oa)
    registration.activate(platform, outbox.last_token())
    assert registration.bind_admin(platform, oa_id, reg_id, None).allowed_wxid == oa.admin_wxid


def test_sixth_completion_in_a_month_is_refused_for_an_enterprise(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform)
    for n in range(5):
        complete_one(platform, outbox, oa, f"mp{n}@example.com")
    operator_id, _ = ids(platform, oa)
    with pytest.raises(DomainError) as refused:
        registration.start(platform, operator_id)
    assert refused.value.errcode == 61055
    assert refused.value.message() == "本月已复用资质创建5个小程序,不可新增。"
    assert used_quota(platform, oa) == 5


def test_second_completion_is_refused_for_an_individual_business(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform, "individual_business")
    complete_one(platform, outbox, oa, "ib@example.com")
    operator_id, _ = ids(platform, oa)
    with pytest.raises(DomainError) as refused:
        registration.start(platform, operator_id)
    assert refused.value.errcode == 61055
    assert refused.value.message() == "本月已复用资质创建1个小程序,不可新增。"


def test_quota_refused_at_completion_leaves_registration_pending(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform, "individual_business")
    reg_id = walk_to_pending(platform, oa, "late@example.com")
    _, oa_id = ids(platform, oa)
    registration.activate(platform, outbox.last_token())
    bind = registration.bind_admin(platform, oa_id, reg_id, "admin_x1")
    # Meanwhile a racing completion spends the month's only slot (as a concurrent request would).
    with platform.uow() as uow:
        month = quota_status(uow, uow.accounts.official_account(oa.appid), uow.clock.now(), platform).month
        assert counters.try_increment(uow.session, oa_id, counters.REGISTRATION, month, 1)
        uow.commit()
    with pytest.raises(DomainError) as refused:
        confirmations.answer(platform, bind.id, "admin_x1", "confirm")
    assert refused.value.errcode == 61055
    assert registration.get(platform, oa_id, reg_id).status == "pending"
    assert confirmations.describe(platform, bind.id).status == "pending"
    assert used_quota(platform, oa) == 1


def test_completion_at_16_utc_on_30_november_counts_for_december(
    platform: Platform, outbox: Outbox, clock: FixedClock
) -> None:
    oa = make_oa(platform, "individual_business")
    clock.set(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC))
    complete_one(platform, outbox, oa, "nov@example.com")
    clock.set(datetime(2026, 11, 30, 16, 0, 0, tzinfo=UTC))
    with platform.uow(readonly=True) as uow:
        status = quota_status(uow, uow.accounts.official_account(oa.appid), uow.clock.now(), platform)
    assert (status.month, status.used, status.remaining) == ("2026-12", 0, 1)
    complete_one(platform, outbox, oa, "dec@example.com")
    assert used_quota(platform, oa) == 1


def test_cancelled_and_expired_registrations_use_no_quota(
    platform: Platform, outbox: Outbox, clock: FixedClock
) -> None:
    oa = make_oa(platform, "individual_business")
    _, oa_id = ids(platform, oa)
    reg_id = walk_to_pending(platform, oa, "cancel@example.com")
    registration.cancel(platform, oa_id, reg_id)
    assert used_quota(platform, oa) == 0
    # The cancelled registration released its email and no longer blocks a new one.
    reg2 = walk_to_pending(platform, oa, "cancel@example.com")
    clock.advance(7 * 24 * 3600)
    assert registration.current(platform, oa_id) is None
    assert sweep_expired(platform) == 1  # the worker's sweep closes it
    assert registration.get(platform, oa_id, reg2).status == "expired"
    complete_one(platform, outbox, oa, "cancel@example.com")
    assert used_quota(platform, oa) == 1


def test_pending_registration_blocks_another(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform)
    walk_to_pending(platform, oa, "first@example.com")
    from fastreg.services.fastregister import fastregister
    from tests.db.helpers import connect, issue_ticket

    s = connect(platform, oa)
    with pytest.raises(DomainError) as refused:
        fastregister(platform, oa.appid, s.component_id, issue_ticket(platform, s))
    assert refused.value.errcode == 61057
    _, oa_id = ids(platform, oa)
    assert registration.eligibility(platform, oa_id) is not None


@pytest.mark.parametrize(
    ("email", "password", "confirm", "err"),
    [
        ("not-an-email", "abc12345", "abc12345", Err.EMAIL_INVALID),
        ("taken@example.com", "abc12345", "abc12345", Err.EMAIL_TAKEN),
        ("bound@example.com", "abc12345", "abc12345", Err.EMAIL_PERSONAL_WECHAT),
        ("ok@example.com", "short1", "short1", Err.PASSWORD_WEAK),
        ("ok@example.com", "abcdefghij", "abcdefghij", Err.PASSWORD_WEAK),
        ("ok@example.com", "abc12345", "abc12346", Err.PASSWORD_MISMATCH),
    ],
)
def test_account_info_is_validated_and_state_unchanged(
    platform: Platform, outbox: Outbox, email: str, password: str, confirm: str, err: Err
) -> None:
    from fastreg.adapters.db.models import PersonalWechatEmail

    make_oa(platform, operator_email="taken@example.com")
    with platform.uow() as uow:
        uow.session.add(PersonalWechatEmail(email="bound@example.com"))
        uow.commit()
    oa = make_oa(platform)
    operator_id, oa_id = ids(platform, oa)
    view = registration.start(platform, operator_id)
    scan = registration.new_scan(platform, oa_id, view.id)
    confirmations.answer(platform, scan.id, oa.admin_wxid, "confirm")
    registration.choose_qualifications(platform, oa_id, view.id, True, False)
    with pytest.raises(DomainError) as refused:
        registration.submit_account(platform, oa_id, view.id, email, password, confirm)
    assert refused.value.err is err and refused.value.field in ("email", "password", "password_confirm")
    after = registration.get(platform, oa_id, view.id)
    assert (after.status, after.email) == ("verified", None)
    assert outbox.sent == []


def test_government_must_reuse_certification(platform: Platform) -> None:
    oa = make_oa(platform, "government")
    operator_id, oa_id = ids(platform, oa)
    view = registration.start(platform, operator_id)
    assert view.certification_locked
    scan = registration.new_scan(platform, oa_id, view.id)
    confirmations.answer(platform, scan.id, oa.admin_wxid, "confirm")
    with pytest.raises(DomainError) as refused:
        registration.choose_qualifications(platform, oa_id, view.id, False, False)
    assert refused.value.errcode == 61056


def test_activation_link_is_single_use_expires_and_resend_replaces_it(
    platform: Platform, outbox: Outbox, clock: FixedClock
) -> None:
    oa = make_oa(platform)
    reg_id = walk_to_pending(platform, oa, "act@example.com")
    _, oa_id = ids(platform, oa)
    first = outbox.last_token()
    with pytest.raises(DomainError) as too_soon:
        registration.resend_activation(platform, oa_id, reg_id)
    assert too_soon.value.err is Err.RESEND_TOO_SOON
    clock.advance(61)
    registration.resend_activation(platform, oa_id, reg_id)
    second = outbox.last_token()
    with pytest.raises(DomainError) as old:
        registration.activate(platform, first)
    assert old.value.err is Err.ACTIVATION_INVALID
    clock.advance(48 * 3600)
    with pytest.raises(DomainError) as expired:
        registration.activate(platform, second)
    assert expired.value.err is Err.ACTIVATION_EXPIRED
    clock.advance(-48 * 3600)
    registration.activate(platform, second)
    with pytest.raises(DomainError) as reused:
        registration.activate(platform, second)
    assert reused.value.err is Err.ACTIVATION_INVALID


def test_change_email_shares_the_resend_limit_and_the_same_address_changes_nothing(
    platform: Platform, outbox: Outbox, clock: FixedClock
) -> None:
    oa = make_oa(platform)
    reg_id = walk_to_pending(platform, oa, "first@example.com")
    _, oa_id = ids(platform, oa)
    assert len(outbox.sent) == 1
    assert registration.change_email(platform, oa_id, reg_id, " First@Example.com ") is False
    with pytest.raises(DomainError) as too_soon:
        registration.change_email(platform, oa_id, reg_id, "second@example.com")
    assert (too_soon.value.err, too_soon.value.field) == (Err.RESEND_TOO_SOON, "email")
    assert len(outbox.sent) == 1
    assert registration.get(platform, oa_id, reg_id).email == "first@example.com"
    clock.advance(61)
    assert registration.change_email(platform, oa_id, reg_id, "second@example.com") is True
    assert [to for to, *_ in outbox.sent] == ["first@example.com", "second@example.com"]
    with pytest.raises(DomainError) as resend:
        registration.resend_activation(platform, oa_id, reg_id)
    assert resend.value.err is Err.RESEND_TOO_SOON
    with platform.uow(readonly=True) as uow:
        kinds = uow.session.execute(select(AuditEvent.kind).order_by(AuditEvent.id)).scalars().all()
    assert kinds[-1] == "email_changed" and kinds.count("activation_sent") == 0


def test_activation_tokens_are_stored_hashed(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform)
    walk_to_pending(platform, oa, "hash@example.com")
    token = outbox.last_token()
    with platform.uow(readonly=True) as uow:
        assert uow.credentials.credential(token) is None
        stored = uow.credentials.credential(secrets.token_hash(token))
        assert stored is not None and stored.kind == "activation"
        assert len(token) >= 22  # >= 128 bits of randomness, URL-safe


def test_operator_of_another_oa_cannot_touch_a_registration(platform: Platform, outbox: Outbox) -> None:
    oa_a, oa_b = make_oa(platform), make_oa(platform)
    reg_id = walk_to_pending(platform, oa_a, "a@example.com")
    _, oa_b_id = ids(platform, oa_b)
    for action in (
        lambda: registration.get(platform, oa_b_id, reg_id),
        lambda: registration.cancel(platform, oa_b_id, reg_id),
        lambda: registration.resend_activation(platform, oa_b_id, reg_id),
    ):
        with pytest.raises(DomainError) as refused:
            action()
        assert refused.value.err is Err.NOT_FOUND
    _, oa_a_id = ids(platform, oa_a)
    assert registration.get(platform, oa_a_id, reg_id).status == "pending"


def test_refusals_are_audited(platform: Platform, outbox: Outbox) -> None:
    oa = make_oa(platform, "individual_business")
    complete_one(platform, outbox, oa, "aud@example.com")
    operator_id, _ = ids(platform, oa)
    with pytest.raises(DomainError):
        registration.start(platform, operator_id)
    with platform.uow(readonly=True) as uow:
        kinds = set(uow.session.execute(select(AuditEvent.kind).where(AuditEvent.oa_appid == oa.appid)).scalars())
        registrations = uow.session.execute(select(func.count()).select_from(Registration)).scalar_one()
    assert {"registration_started", "scan_confirmed", "completed", "linked", "quota_refused"} <= kinds
    assert registrations == 1


def test_wizard_completion_leaves_the_mp_uncertified_under_2023_12_25(platform: Platform, outbox: Outbox) -> None:
    from fastreg.services import versions

    versions.set_version(platform, "2023-12-25")
    oa = make_oa(platform)
    appid = complete_one(platform, outbox, oa, "v2023@example.com")
    _, oa_id = ids(platform, oa)
    with platform.uow(readonly=True) as uow:
        mp = uow.session.execute(select(MiniProgram).where(MiniProgram.appid == appid)).scalar_one()
        registration_id = uow.session.execute(select(Registration.id).where(Registration.mp_id == mp.id)).scalar_one()
    assert (mp.certified, mp.certified_until) == (False, None)
    assert not registration.get(platform, oa_id, registration_id).mp_certified  # what the done page shows
    assert used_quota(platform, oa) == 1


# ---------------------------------------------------------------- the SQL repositories themselves


def _oa_row(platform: Platform, oa: NewOfficialAccount) -> int:
    return ids(platform, oa)[1]


def _pending(oa_id: int, now: datetime) -> Registration:
    return Registration(oa_id=oa_id, channel="open_api", status="pending", created_at=now, updated_at=now)


def test_the_database_refuses_a_second_pending_registration_of_an_oa(platform: Platform) -> None:
    operator_id, oa_id = ids(platform, make_oa(platform))
    with platform.uow() as uow:
        uow.registrations.add(_pending(oa_id, uow.clock.now()))
        uow.commit()
    with platform.uow() as uow, pytest.raises(DomainError) as refused:
        second = uow.registrations.add(Registration.start(oa_id=oa_id, operator_id=operator_id, now=uow.clock.now()))
        second.status = "pending"
        uow.registrations.save(second)
    assert refused.value.err is Err.PENDING_EXISTS
    with platform.uow(readonly=True) as uow:
        assert uow.session.execute(select(func.count()).select_from(Registration)).scalar_one() == 1


def test_eligibility_facts_count_the_month_and_a_live_pending_registration(
    platform: Platform, clock: FixedClock
) -> None:
    oa = make_oa(platform, "individual_business")
    oa_id = _oa_row(platform, oa)
    with platform.uow() as uow:
        pending = uow.registrations.add(_pending(oa_id, uow.clock.now()))
        assert uow.counters.try_increment(oa_id, "registration", "2026-11", 1)
        assert not uow.counters.try_increment(oa_id, "registration", "2026-11", 1)  # the limit holds
        uow.commit()

    def facts(ignore: int | None = None, ttl: int = 7 * 24 * 3600) -> tuple[bool, int, int]:
        with platform.uow(readonly=True) as uow:
            row = uow.accounts.official_account_by_id(oa_id)
            assert row is not None
            now = uow.clock.now()
            found = uow.registrations.eligibility(
                row,
                now=now,
                month="2026-11",
                limits=platform.limits,
                pending_since=now - timedelta(seconds=ttl),
                ignore_registration_id=ignore,
            )
        return found.has_pending, found.quota.used, found.quota.limit

    assert facts() == (True, 1, 1)
    assert facts(ignore=pending.id) == (False, 1, 1)  # the registration being completed does not block itself
    clock.advance(7 * 24 * 3600)
    assert facts() == (False, 1, 1)  # past its time to live it no longer counts


def test_a_confirmation_is_answered_once(platform: Platform) -> None:
    oa = make_oa(platform)
    with platform.uow() as uow:
        now = uow.clock.now()
        created = confirmations.create(uow, now, platform, ConfirmationKind.BIND_ADMIN, oa.appid, "wxid_x1", {})
        uow.commit()
    with platform.uow() as uow:
        first = uow.confirmations.get(created.id)
        assert first is not None and uow.confirmations.claim(first, "confirmed", uow.clock.now())
        uow.commit()
    with platform.uow() as uow:
        again = uow.confirmations.get(created.id)
        assert again is not None and again.status == "confirmed"
        assert not uow.confirmations.claim(again, "cancelled", uow.clock.now())
    assert confirmations.describe_stored(platform, created.id).status == "confirmed"
    assert confirmations.describe_stored(platform, created.id).account_name == "enterprise OA"


def test_an_email_is_reserved_once_and_released(platform: Platform) -> None:
    make_oa(platform, operator_email="op@example.com")
    with platform.uow() as uow, pytest.raises(DomainError) as taken:
        uow.accounts.claim_identifier("op@example.com", "email")
    assert taken.value.err is Err.EMAIL_TAKEN
    with platform.uow() as uow:
        uow.accounts.claim_identifier("mp@example.com", "email")
        uow.commit()
    with platform.uow() as uow:
        assert uow.accounts.identifier_taken("mp@example.com")
        uow.accounts.release_email("mp@example.com")
        uow.commit()
    with platform.uow(readonly=True) as uow:
        assert not uow.accounts.identifier_taken("mp@example.com")
