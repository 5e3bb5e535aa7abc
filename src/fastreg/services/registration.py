"""The console wizard's use cases (快速注册并认证小程序), each in one transaction.

Steps: 1 entry (eligibility) · 2 protocol → draft · 3 admin scan → verified · 4 qualification reuse ·
5 account info → pending + activation mail · 6 email activation · 7 admin binding → completed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fastreg.adapters import crypto
from fastreg.adapters.db.models import (
    Confirmation,
    MiniProgram,
    OfficialAccount,
    Operator,
    PersonalWechatEmail,
    Principal,
    Registration,
)
from fastreg.adapters.db.uow import UnitOfWork
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import (
    OPEN_STATUSES,
    AuditKind,
    Channel,
    ConfirmationKind,
    ConfirmationStatus,
    RegistrationStatus,
)
from fastreg.domain.rules import (
    Stage,
    certification_locked,
    chosen_admin,
    ensure_eligible,
    ensure_email_available,
    first_refusal,
    is_expired,
    next_status,
    password_problems,
    validate_email_format,
    validate_mp_name,
    validate_password,
    validate_wxid,
)
from fastreg.platform import Platform
from fastreg.services import audit, confirmations, credentials
from fastreg.services.accounts import claim_identifier, identifier_taken
from fastreg.services.completion import Completion, complete, record_refusal, release_email
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.credentials import CredentialKind, Lookup
from fastreg.services.quota import eligibility_input

DONE_STEP = 8


@dataclass(frozen=True)
class RegistrationView:
    id: int
    status: str
    step: int  # 3..7 while open; 8 once completed
    oa_appid: str
    principal_type: str
    certification_locked: bool
    reuse_certification: bool | None
    reuse_operator: bool
    email: str | None
    mp_name: str | None
    activated: bool
    activation_sent_at: datetime | None
    admin_wxid: str | None
    mp_appid: str | None
    mp_certified: bool
    mp_certified_until: datetime | None
    scan_confirmation_id: str | None
    admin_confirmation_id: str | None
    updated_at: datetime


def _step(registration: Registration) -> int:
    status = registration.status
    if status == RegistrationStatus.DRAFT:
        return 3
    if status == RegistrationStatus.VERIFIED:
        return 4 if registration.reuse_certification is None else 5
    if status == RegistrationStatus.PENDING:
        return 6 if registration.email_activated_at is None else 7
    return DONE_STEP


def _view(uow: UnitOfWork, registration: Registration, oa: OfficialAccount) -> RegistrationView:
    principal = uow.session.get(Principal, oa.principal_id)
    assert principal is not None
    mp = uow.session.get(MiniProgram, registration.mp_id) if registration.mp_id else None
    return RegistrationView(
        id=registration.id,
        status=registration.status,
        step=_step(registration),
        oa_appid=oa.appid,
        principal_type=principal.type,
        certification_locked=certification_locked(principal.type),
        reuse_certification=registration.reuse_certification,
        reuse_operator=registration.reuse_operator,
        email=registration.email,
        mp_name=registration.mp_name,
        activated=registration.email_activated_at is not None,
        activation_sent_at=registration.activation_sent_at,
        admin_wxid=registration.admin_wxid,
        mp_appid=mp.appid if mp else None,
        mp_certified=bool(mp and mp.certified),
        mp_certified_until=mp.certified_until if mp else None,
        scan_confirmation_id=registration.scan_confirmation_id,
        admin_confirmation_id=registration.admin_confirmation_id,
        updated_at=registration.updated_at,
    )


def _oa(uow: UnitOfWork, oa_id: int) -> OfficialAccount:
    oa = uow.session.get(OfficialAccount, oa_id)
    if oa is None:
        raise DomainError(Err.NOT_FOUND)
    return oa


def _registration(uow: UnitOfWork, oa_id: int, registration_id: int) -> Registration:
    """The OA's own console registration; another OA's is as good as absent."""
    registration = uow.session.get(Registration, registration_id)
    if registration is None or registration.oa_id != oa_id or registration.channel != Channel.CONSOLE:
        raise DomainError(Err.NOT_FOUND)
    return registration


def _open_registration(uow: UnitOfWork, oa_id: int) -> Registration | None:
    return uow.session.execute(
        select(Registration)
        .where(
            Registration.oa_id == oa_id,
            Registration.channel == Channel.CONSOLE.value,
            Registration.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(Registration.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _expire_stale(uow: UnitOfWork, platform: Platform, oa_id: int) -> None:
    """Open registrations untouched for longer than the pending TTL expire (7 days by default)."""
    now = uow.clock.now()
    cutoff = now - timedelta(seconds=platform.settings.pending_ttl_seconds)
    stale = uow.session.execute(
        select(Registration).where(
            Registration.oa_id == oa_id,
            Registration.status.in_([s.value for s in OPEN_STATUSES]),
            Registration.updated_at <= cutoff,
        )
    ).scalars()
    oa = _oa(uow, oa_id)
    for registration in stale:
        if is_expired(registration.status, registration.updated_at, now, platform.settings.pending_ttl_seconds):
            registration.status = next_status(registration.status, "expire")
            registration.updated_at = now
            release_email(uow.session, registration.email)
            audit.record(uow.session, now, AuditKind.EXPIRED, "system", oa_appid=oa.appid, registration=registration.id)
    uow.session.flush()


def _operator(uow: UnitOfWork, operator_id: int) -> Operator:
    operator = uow.session.get(Operator, operator_id)
    if operator is None:
        raise DomainError(Err.NOT_FOUND)
    return operator


# ---------------------------------------------------------------- step 1: entry


def eligibility(platform: Platform, oa_id: int) -> DomainError | None:
    """Why the OA may not start a fast registration now, or None (the 小程序管理 page and step 1).
    A pending registration past its time to live no longer counts (eligibility_input leaves it out)."""
    with platform.uow(readonly=True) as uow:
        facts = eligibility_input(uow.conn, _oa(uow, oa_id), uow.clock.now(), platform)
        return first_refusal(facts, Stage.START)


def current(platform: Platform, oa_id: int) -> RegistrationView | None:
    """The OA's open registration, where the wizard resumes (expired ones are closed first)."""
    with platform.uow() as uow:
        _expire_stale(uow, platform, oa_id)
        registration = _open_registration(uow, oa_id)
        result = _view(uow, registration, _oa(uow, oa_id)) if registration else None
        uow.commit()
        return result


def get(platform: Platform, oa_id: int, registration_id: int) -> RegistrationView:
    with platform.uow(readonly=True) as uow:
        return _view(uow, _registration(uow, oa_id, registration_id), _oa(uow, oa_id))


# ---------------------------------------------------------------- step 2: protocol → draft


def start(platform: Platform, operator_id: int) -> RegistrationView:
    """The operator agreed to the protocol: create the draft, or resume the open registration."""
    try:
        with platform.uow() as uow:
            operator = _operator(uow, operator_id)
            _expire_stale(uow, platform, operator.oa_id)
            oa = _oa(uow, operator.oa_id)
            existing = _open_registration(uow, oa.id)
            if existing is not None:
                result = _view(uow, existing, oa)
                uow.commit()
                return result
            now = uow.clock.now()
            ensure_eligible(eligibility_input(uow.conn, oa, now, platform), Stage.START)
            registration = Registration(
                oa_id=oa.id,
                channel=Channel.CONSOLE.value,
                status=RegistrationStatus.DRAFT.value,
                reuse_certification=None,
                reuse_operator=False,
                operator_id=operator.id,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(registration)
            uow.session.flush()
            audit.record(uow.session, now, AuditKind.REGISTRATION_STARTED, operator.email, oa_appid=oa.appid)
            result = _view(uow, registration, oa)
            uow.commit()
            return result
    except DomainError as error:
        if error.errcode >= 61000:
            record_refusal(platform, error, actor=f"operator:{operator_id}", oa_appid=_oa_appid(platform, operator_id))
        raise


def _oa_appid(platform: Platform, operator_id: int) -> str:
    with platform.uow(readonly=True) as uow:
        return _oa(uow, _operator(uow, operator_id).oa_id).appid


# ---------------------------------------------------------------- step 3: admin scan → verified


def new_scan(platform: Platform, oa_id: int, registration_id: int, *, refresh: bool = False) -> ConfirmationView:
    """The QR code for the OA admin. Reloading shows the same live code; ``refresh`` (or an expired or
    cancelled code) makes a new one."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.DRAFT:
            raise DomainError(Err.WRONG_STATE)
        oa = _oa(uow, oa_id)
        existing = (
            session.get(Confirmation, registration.scan_confirmation_id) if registration.scan_confirmation_id else None
        )
        if (
            existing is not None
            and not refresh
            and confirmations.effective_status(existing, now) == ConfirmationStatus.PENDING
        ):
            return confirmations.view(session, platform, existing, now)
        confirmation = confirmations.create(
            session,
            now,
            platform,
            ConfirmationKind.REGISTRATION_SCAN,
            oa.appid,
            oa.admin_wxid,
            {"registration_id": registration.id, "oa_name": oa.name},
        )
        registration.scan_confirmation_id = confirmation.id
        registration.updated_at = now
        result = confirmations.view(session, platform, confirmation, now)
        uow.commit()
        return result


def scan_status(platform: Platform, oa_id: int, registration_id: int) -> tuple[str, str | None]:
    """(registration status, scan confirmation status) for the polling page."""
    return _polled_status(platform, oa_id, registration_id, lambda r: r.scan_confirmation_id)


def _polled_status(
    platform: Platform, oa_id: int, registration_id: int, confirmation_of: Callable[[Registration], str | None]
) -> tuple[str, str | None]:
    with platform.uow(readonly=True) as uow:
        registration = _registration(uow, oa_id, registration_id)
        confirmation_id = confirmation_of(registration)
        confirmation = uow.session.get(Confirmation, confirmation_id) if confirmation_id else None
        status = confirmations.effective_status(confirmation, uow.clock.now()) if confirmation else None
        return registration.status, status


def on_scan_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    registration = uow.session.get(Registration, int(confirmation.payload["registration_id"]))
    if registration is None or registration.scan_confirmation_id != confirmation.id:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action == confirmations.CONFIRM:
        now = uow.clock.now()
        registration.status = next_status(registration.status, "scan_confirmed")
        registration.updated_at = now
        audit.record(uow.session, now, AuditKind.SCAN_CONFIRMED, wxid, oa_appid=confirmation.account_appid)
    return None


# ---------------------------------------------------------------- step 4: qualification reuse


def choose_qualifications(
    platform: Platform, oa_id: int, registration_id: int, reuse_certification: bool, reuse_operator: bool
) -> RegistrationView:
    with platform.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.VERIFIED:
            raise DomainError(Err.WRONG_STATE)
        oa = _oa(uow, oa_id)
        principal = uow.session.get(Principal, oa.principal_id)
        assert principal is not None
        if certification_locked(principal.type) and not reuse_certification:
            raise DomainError(Err.CERTIFICATION_REQUIRED, field="reuse_certification")
        now = uow.clock.now()
        registration.reuse_certification = reuse_certification
        registration.reuse_operator = reuse_operator
        registration.updated_at = now
        audit.record(
            uow.session,
            now,
            AuditKind.QUALIFICATIONS_CHOSEN,
            _actor(uow, registration),
            oa_appid=oa.appid,
            reuse_certification=reuse_certification,
            reuse_operator=reuse_operator,
        )
        result = _view(uow, registration, oa)
        uow.commit()
        return result


def back_to_qualifications(platform: Platform, oa_id: int, registration_id: int) -> bool:
    """Step 5's "back": choose the qualifications again (nothing else changes). Returns the certification
    choice made before, for step 4 to show again (the operator's choice is kept on the registration)."""
    with platform.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.VERIFIED or registration.reuse_certification is None:
            raise DomainError(Err.WRONG_STATE)
        chosen = registration.reuse_certification
        registration.reuse_certification = None
        uow.commit()
        return chosen


def _actor(uow: UnitOfWork, registration: Registration) -> str:
    operator = uow.session.get(Operator, registration.operator_id) if registration.operator_id else None
    return operator.email if operator else "operator"


# ---------------------------------------------------------------- step 5: account info → pending


def _check_email(uow: UnitOfWork, email: str) -> str:
    normalized = validate_email_format(email)
    bound = uow.session.get(PersonalWechatEmail, normalized) is not None
    ensure_email_available(
        normalized, used_on_platform=identifier_taken(uow.session, normalized), bound_to_personal_wechat=bound
    )
    return normalized


def account_problems(platform: Platform, email: str, password: str, password_confirm: str) -> list[DomainError]:
    """Every refusal of step 5's form at once (the page shows them together): the email (format, taken on the
    platform, bound to a personal WeChat account) and the password (strength, confirmation). Read only."""
    problems = password_problems(password, password_confirm)
    with platform.uow(readonly=True) as uow:
        try:
            _check_email(uow, email)
        except DomainError as problem:
            problems.insert(0, problem)
    return problems


def submit_account(
    platform: Platform,
    oa_id: int,
    registration_id: int,
    email: str,
    password: str,
    password_confirm: str,
    mp_name: str | None = None,
) -> RegistrationView:
    """Validate the MP account, reserve the email platform-wide, move to pending and send the activation mail."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.VERIFIED or registration.reuse_certification is None:
            raise DomainError(Err.WRONG_STATE)
        normalized = _check_email(uow, email)
        validate_password(password, password_confirm)
        name = validate_mp_name(mp_name)
        _expire_stale(uow, platform, oa_id)
        oa = _oa(uow, oa_id)
        ensure_eligible(eligibility_input(uow.conn, oa, now, platform), Stage.START)
        claim_identifier(session, normalized, "email")
        registration.email = normalized
        registration.password_hash = crypto.hash_password(password)
        registration.mp_name = name
        registration.status = next_status(registration.status, "account_submitted")
        registration.updated_at = now
        try:
            session.flush()  # the partial unique index refuses a second pending registration (61057)
        except IntegrityError:
            raise DomainError(Err.PENDING_EXISTS) from None
        token = _new_activation(uow, platform, registration)
        audit.record(
            session, now, AuditKind.ACCOUNT_SUBMITTED, _actor(uow, registration), oa_appid=oa.appid, email=normalized
        )
        result = _view(uow, registration, oa)
        uow.commit()
    _send_activation(platform, normalized, token, oa.name)
    return result


def _new_activation(uow: UnitOfWork, platform: Platform, registration: Registration) -> str:
    now = uow.clock.now()
    subject = str(registration.id)
    credentials.revoke_unused(uow.credentials, now, CredentialKind.ACTIVATION, subject)
    registration.activation_sent_at = now
    return credentials.issue(
        uow.credentials,
        now,
        CredentialKind.ACTIVATION,
        subject,
        platform.settings.activation_ttl_seconds,
        data={"email": registration.email},
    )


def activation_url(platform: Platform, token: str) -> str:
    return platform.url(f"/activate/{token}")


def _send_activation(platform: Platform, email: str, token: str, oa_name: str) -> None:
    if platform.mailer is None:
        return
    url = activation_url(platform, token)
    hours = platform.settings.activation_ttl_seconds // 3600
    subject = "激活你的小程序帐号 / Activate your Mini Program account"
    text = (
        f"你好！\n\n公众号「{oa_name}」正在为你复用资质快速注册小程序，登录邮箱为 {email}。\n"
        f"请在 {hours} 小时内点击以下链接激活帐号：\n{url}\n\n"
        f'Hello! The Official Account "{oa_name}" is registering a Mini Program with this email.\n'
        f"Open this link within {hours} hours to activate the account:\n{url}\n"
    )
    # The OA's name and the address are the operator's text: escaped in the HTML part like any page.
    name, address, href = escape(oa_name), escape(email), escape(url)
    html = (
        f"<p>你好！</p><p>公众号「{name}」正在为你复用资质快速注册小程序，登录邮箱为 {address}。</p>"
        f'<p>请在 {hours} 小时内点击链接激活帐号：<a href="{href}">{href}</a></p>'
        f'<p>Open this link within {hours} hours to activate the account: <a href="{href}">{href}</a></p>'
    )
    platform.mailer.send(email, subject, text, html)


# ---------------------------------------------------------------- step 6: activation


def _ensure_mail_interval(platform: Platform, registration: Registration, now: datetime, field: str | None) -> None:
    """At most one activation mail a minute per registration, whether resent or sent to a changed address."""
    interval = timedelta(seconds=platform.settings.activation_resend_interval_seconds)
    if registration.activation_sent_at and now - registration.activation_sent_at < interval:
        raise DomainError(Err.RESEND_TOO_SOON, field=field)


def resend_activation(platform: Platform, oa_id: int, registration_id: int) -> RegistrationView:
    """A new link (the previous one stops working), at most once a minute."""
    with platform.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.PENDING or registration.email_activated_at is not None:
            raise DomainError(Err.WRONG_STATE)
        _ensure_mail_interval(platform, registration, now, None)
        token = _new_activation(uow, platform, registration)
        registration.updated_at = now
        oa = _oa(uow, oa_id)
        audit.record(uow.session, now, AuditKind.ACTIVATION_SENT, _actor(uow, registration), oa_appid=oa.appid)
        result = _view(uow, registration, oa)
        email = str(registration.email)
        uow.commit()
    _send_activation(platform, email, token, oa.name)
    return result


def change_email(platform: Platform, oa_id: int, registration_id: int, email: str) -> bool:
    """Step 6's "change the email": release the old address, reserve the new one, send a new link (under the
    resend's limit of one mail a minute). The address it already has changes nothing and sends nothing: False."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.PENDING or registration.email_activated_at is not None:
            raise DomainError(Err.WRONG_STATE)
        if validate_email_format(email) == registration.email:
            return False
        _ensure_mail_interval(platform, registration, now, "email")
        normalized = _check_email(uow, email)
        previous = registration.email
        release_email(session, previous)
        session.flush()
        claim_identifier(session, normalized, "email")
        registration.email = normalized
        token = _new_activation(uow, platform, registration)
        registration.updated_at = now
        oa = _oa(uow, oa_id)
        audit.record(
            session,
            now,
            AuditKind.EMAIL_CHANGED,
            _actor(uow, registration),
            oa_appid=oa.appid,
            email=normalized,
            previous=previous,
        )
        uow.commit()
    _send_activation(platform, normalized, token, oa.name)
    return True


def activate(platform: Platform, token: str) -> RegistrationView:
    """The link in the activation mail: single-use, valid 48 hours."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        found = credentials.find(session.info["unit_of_work"].credentials, now, CredentialKind.ACTIVATION, token)
        if found.status is Lookup.EXPIRED:
            raise DomainError(Err.ACTIVATION_EXPIRED)
        if found.status is not Lookup.OK or found.credential is None:
            raise DomainError(Err.ACTIVATION_INVALID)
        registration = session.get(Registration, int(found.credential.subject))
        if registration is None or registration.status != RegistrationStatus.PENDING:
            raise DomainError(Err.ACTIVATION_INVALID)
        if not credentials.consume(session.info["unit_of_work"].credentials, now, found.credential):
            raise DomainError(Err.ACTIVATION_INVALID)
        registration.email_activated_at = now
        registration.updated_at = now
        oa = _oa(uow, registration.oa_id)
        audit.record(session, now, AuditKind.ACTIVATED, str(registration.email), oa_appid=oa.appid)
        result = _view(uow, registration, oa)
        uow.commit()
        return result


# ---------------------------------------------------------------- step 7: bind admin → completed


def bind_admin(platform: Platform, oa_id: int, registration_id: int, wxid: str | None) -> ConfirmationView:
    """Ask the chosen admin (a wxid typed in, or the reused operator) to confirm on the phone page. While one
    admin is asked, the same admin keeps the same code; another admin gets a new code (the first one's is
    closed); an expired or cancelled code is replaced by a new one."""
    with platform.uow() as uow:
        session, now = uow.session, uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.PENDING or registration.email_activated_at is None:
            raise DomainError(Err.WRONG_STATE)
        operator = session.get(Operator, registration.operator_id) if registration.operator_id else None
        typed = validate_wxid(wxid) if wxid and wxid.strip() else None
        admin = chosen_admin(typed, registration.reuse_operator, operator.wxid if operator else None)
        if not admin:
            raise DomainError(Err.WXID_INVALID, field="admin_wxid")
        oa = _oa(uow, oa_id)
        existing = (
            session.get(Confirmation, registration.admin_confirmation_id)
            if registration.admin_confirmation_id
            else None
        )
        waiting = existing is not None and confirmations.effective_status(existing, now) == ConfirmationStatus.PENDING
        if existing is not None and waiting:
            if existing.allowed_wxid == admin:
                return confirmations.view(session, platform, existing, now)
            # Another admin chosen while the first was asked: the first one's code stops working.
            existing.status, existing.answered_at = ConfirmationStatus.CANCELLED.value, now
        confirmation = confirmations.create(
            session,
            now,
            platform,
            ConfirmationKind.BIND_ADMIN,
            oa.appid,
            admin,
            {
                "registration_id": registration.id,
                "oa_name": oa.name,
                "email": registration.email,
                "mp_name": registration.mp_name,  # the invitation names the Mini Program being created
            },
        )
        registration.admin_confirmation_id = confirmation.id
        registration.admin_wxid = admin
        registration.updated_at = now
        result = confirmations.view(session, platform, confirmation, now)
        uow.commit()
        return result


def on_admin_answered(uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str) -> str | None:
    registration = uow.session.get(Registration, int(confirmation.payload["registration_id"]))
    if registration is None or registration.admin_confirmation_id != confirmation.id:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action != confirmations.CONFIRM:
        return None
    if registration.status != RegistrationStatus.PENDING or registration.email_activated_at is None:
        raise DomainError(Err.WRONG_STATE)
    platform: Platform = uow.platform
    now = uow.clock.now()
    oa = _oa(uow, registration.oa_id)
    audit.record(uow.session, now, AuditKind.ADMIN_BOUND, wxid, oa_appid=oa.appid)
    uow.session.flush()
    completion = Completion(
        registration_id=registration.id,
        channel=Channel.CONSOLE,
        reuse_certification=bool(registration.reuse_certification),
        started_at=registration.created_at,
        mp_name=registration.mp_name,
        email=registration.email,
        password_hash=registration.password_hash,
        activated=registration.email_activated_at is not None,
    )
    mp = complete(uow, platform, oa, completion, actor=wxid, admin_wxid=wxid)
    registration.status = next_status(registration.status, "completed").value
    registration.mp_id = mp.id
    registration.admin_wxid = wxid
    registration.completed_at = registration.updated_at = now
    return None


def completion_refusal(platform: Platform, oa_id: int, registration_id: int) -> DomainError | None:
    """Why a pending registration could not complete now (the completion rules of rules.md: the principal's
    limit, the blacklist, the month's quota, ...), or None. Read only: the admin-binding step shows it while it
    waits for the admin, whose confirmation would be refused for that reason."""
    with platform.uow(readonly=True) as uow:
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.PENDING:
            return None
        facts = eligibility_input(
            uow.conn,
            _oa(uow, oa_id),
            uow.clock.now(),
            platform,
            ignore_pending_id=registration.id,
            reuse_certification=bool(registration.reuse_certification),
            scan_valid=True,
        )
        return first_refusal(facts, Stage.COMPLETE)


def admin_status(platform: Platform, oa_id: int, registration_id: int) -> tuple[str, str | None]:
    """(registration status, admin confirmation status) for the polling page."""
    return _polled_status(platform, oa_id, registration_id, lambda r: r.admin_confirmation_id)


# ---------------------------------------------------------------- cancel


def cancel(platform: Platform, oa_id: int, registration_id: int) -> RegistrationView:
    with platform.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        registration.status = next_status(registration.status, "cancel")
        registration.updated_at = now
        release_email(uow.session, registration.email)
        oa = _oa(uow, oa_id)
        audit.record(uow.session, now, AuditKind.CANCELLED, _actor(uow, registration), oa_appid=oa.appid)
        result = _view(uow, registration, oa)
        uow.commit()
        return result
