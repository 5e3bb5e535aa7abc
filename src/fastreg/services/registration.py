"""The console wizard's use cases (快速注册并认证小程序), each in one transaction.

Steps: 1 entry (eligibility) · 2 protocol → draft · 3 admin scan → verified · 4 qualification reuse ·
5 account info → pending + activation mail · 6 email activation · 7 admin binding → completed.
The registration aggregate (``domain/registration.py``) decides each transition and the step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastreg.domain import secrets
from fastreg.domain.entities import Confirmation, Credential, OfficialAccount, Operator
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, ConfirmationKind, ConfirmationStatus, RegistrationStatus
from fastreg.domain.registration import ACCOUNT_STEP, ACTIVATION_STEP, ADMIN_STEP, DONE_STEP, Registration
from fastreg.domain.rules import (
    Stage,
    certification_locked,
    chosen_admin,
    ensure_eligible,
    ensure_email_available,
    first_refusal,
    password_problems,
    validate_email_format,
    validate_mp_name,
    validate_password,
    validate_wxid,
)
from fastreg.services import audit, confirmations
from fastreg.services.completion import Completion, complete, record_refusal
from fastreg.services.confirmations import ConfirmationView
from fastreg.services.credentials import CredentialKind
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.quota import eligibility_facts

__all__ = ["DONE_STEP", "RegistrationView"]


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


def _view(uow: UnitOfWork, registration: Registration, oa: OfficialAccount) -> RegistrationView:
    principal = uow.accounts.principal(oa.principal_id)
    assert principal is not None
    mp = uow.accounts.mini_program_by_id(registration.mp_id) if registration.mp_id else None
    return RegistrationView(
        id=registration.id,
        status=registration.status,
        step=registration.step,
        oa_appid=oa.appid,
        principal_type=principal.type,
        certification_locked=certification_locked(principal.type),
        reuse_certification=registration.reuse_certification,
        reuse_operator=registration.reuse_operator,
        email=registration.email,
        mp_name=registration.mp_name,
        activated=registration.activated,
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
    oa = uow.accounts.official_account_by_id(oa_id)
    if oa is None:
        raise DomainError(Err.NOT_FOUND)
    return oa


def _registration(uow: UnitOfWork, oa_id: int, registration_id: int) -> Registration:
    """The OA's own console registration; another OA's is as good as absent."""
    registration = uow.registrations.get(registration_id)
    if registration is None or registration.oa_id != oa_id or registration.channel != Channel.CONSOLE:
        raise DomainError(Err.NOT_FOUND)
    return registration


def _audit(uow: UnitOfWork, kind: AuditKind, actor: str, oa_appid: str | None, **detail: Any) -> None:
    audit.record(uow.audit, uow.clock.now(), kind, actor, oa_appid=oa_appid, **detail)


def _expire_stale(uow: UnitOfWork, context: Context, oa: OfficialAccount) -> None:
    """Open registrations untouched for longer than the pending TTL expire (7 days by default)."""
    now, ttl = uow.clock.now(), context.settings.pending_ttl_seconds
    for registration in uow.registrations.stale_for(oa.id, now - timedelta(seconds=ttl)):
        _release(uow, registration.expire(now, ttl))
        uow.registrations.save(registration)
        _audit(uow, AuditKind.EXPIRED, "system", oa.appid, registration=registration.id)


def _release(uow: UnitOfWork, email: str | None) -> None:
    if email:
        uow.accounts.release_email(email)


def _operator(uow: UnitOfWork, operator_id: int) -> Operator:
    operator = uow.accounts.operator(operator_id)
    if operator is None:
        raise DomainError(Err.NOT_FOUND)
    return operator


def _actor(uow: UnitOfWork, registration: Registration) -> str:
    operator = uow.accounts.operator(registration.operator_id) if registration.operator_id else None
    return operator.email if operator else "operator"


# ---------------------------------------------------------------- step 1: entry


def eligibility(context: Context, oa_id: int) -> DomainError | None:
    """Why the OA may not start a fast registration now, or None (the 小程序管理 page and step 1).
    A pending registration past its time to live no longer counts (the facts leave it out)."""
    with context.uow(readonly=True) as uow:
        return first_refusal(eligibility_facts(uow, context, _oa(uow, oa_id)), Stage.START)


def current(context: Context, oa_id: int) -> RegistrationView | None:
    """The OA's open registration, where the wizard resumes: a read (one past its time to live counts as
    expired, and the worker's sweep closes it, ``expire_stale``)."""
    with context.uow(readonly=True) as uow:
        registration = uow.registrations.open_for(oa_id, Channel.CONSOLE.value)
        if registration is None or registration.is_stale(uow.clock.now(), context.settings.pending_ttl_seconds):
            return None
        return _view(uow, registration, _oa(uow, oa_id))


def get(context: Context, oa_id: int, registration_id: int) -> RegistrationView:
    with context.uow(readonly=True) as uow:
        return _view(uow, _registration(uow, oa_id, registration_id), _oa(uow, oa_id))


# ---------------------------------------------------------------- step 2: protocol → draft


def start(context: Context, operator_id: int) -> RegistrationView:
    """The operator agreed to the protocol: create the draft, or resume the open registration."""
    try:
        with context.uow() as uow:
            operator = _operator(uow, operator_id)
            oa = _oa(uow, operator.oa_id)
            _expire_stale(uow, context, oa)
            registration = uow.registrations.open_for(oa.id, Channel.CONSOLE.value)
            if registration is None:
                ensure_eligible(eligibility_facts(uow, context, oa), Stage.START)
                registration = uow.registrations.add(
                    Registration.start(oa_id=oa.id, operator_id=operator.id, now=uow.clock.now())
                )
                _audit(uow, AuditKind.REGISTRATION_STARTED, operator.email, oa.appid)
            result = _view(uow, registration, oa)
            uow.commit()
            return result
    except DomainError as error:
        if error.errcode >= 61000:
            oa_appid = _oa_appid(context, operator_id)
            record_refusal(context, error, actor=f"operator:{operator_id}", oa_appid=oa_appid)
        raise


def _oa_appid(context: Context, operator_id: int) -> str:
    with context.uow(readonly=True) as uow:
        return _oa(uow, _operator(uow, operator_id).oa_id).appid


# ---------------------------------------------------------------- step 3: admin scan → verified


def new_scan(context: Context, oa_id: int, registration_id: int, *, refresh: bool = False) -> ConfirmationView:
    """The QR code for the OA admin. Reloading shows the same live code; ``refresh`` (or an expired or
    cancelled code) makes a new one."""
    with context.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.DRAFT:
            raise DomainError(Err.WRONG_STATE)
        oa = _oa(uow, oa_id)
        existing = _confirmation(uow, registration.scan_confirmation_id)
        if existing is not None and not refresh and _waiting(existing, now):
            return confirmations.view(uow, context, existing, now)
        confirmation = confirmations.create(
            uow,
            now,
            context,
            ConfirmationKind.REGISTRATION_SCAN,
            oa.appid,
            oa.admin_wxid,
            {"registration_id": registration.id, "oa_name": oa.name},
        )
        registration.ask_scan(confirmation.id, now)
        uow.registrations.save(registration)
        result = confirmations.view(uow, context, confirmation, now)
        uow.commit()
        return result


def _confirmation(uow: UnitOfWork, digest: str | None) -> Confirmation | None:
    return uow.confirmations.get(digest) if digest else None


def _waiting(confirmation: Confirmation, now: datetime) -> bool:
    return confirmations.effective_status(confirmation, now) == ConfirmationStatus.PENDING


def scan_status(context: Context, oa_id: int, registration_id: int) -> tuple[str, str | None]:
    """(registration status, scan confirmation status) for the polling page."""
    return _polled_status(context, oa_id, registration_id, lambda r: r.scan_confirmation_id)


def _polled_status(
    context: Context, oa_id: int, registration_id: int, confirmation_of: Callable[[Registration], str | None]
) -> tuple[str, str | None]:
    with context.uow(readonly=True) as uow:
        registration = _registration(uow, oa_id, registration_id)
        confirmation = _confirmation(uow, confirmation_of(registration))
        status = confirmations.effective_status(confirmation, uow.clock.now()) if confirmation else None
        return registration.status, status


def _answered(uow: UnitOfWork, confirmation: Confirmation) -> Registration:
    registration = uow.registrations.get(int(confirmation.payload["registration_id"]))
    if registration is None:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    return registration


def on_scan_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    registration = _answered(uow, confirmation)
    if registration.scan_confirmation_id != confirmation.id:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action == confirmations.CONFIRM:
        registration.confirm_scan(confirmation.id, uow.clock.now())
        uow.registrations.save(registration)
        _audit(uow, AuditKind.SCAN_CONFIRMED, wxid, confirmation.account_appid)
    return None


# ---------------------------------------------------------------- step 4: qualification reuse


def choose_qualifications(
    context: Context, oa_id: int, registration_id: int, reuse_certification: bool, reuse_operator: bool
) -> RegistrationView:
    with context.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        oa = _oa(uow, oa_id)
        principal = uow.accounts.principal(oa.principal_id)
        assert principal is not None
        registration.choose_qualifications(
            reuse_certification=reuse_certification,
            reuse_operator=reuse_operator,
            principal_type=principal.type,
            now=uow.clock.now(),
        )
        uow.registrations.save(registration)
        _audit(
            uow,
            AuditKind.QUALIFICATIONS_CHOSEN,
            _actor(uow, registration),
            oa.appid,
            reuse_certification=reuse_certification,
            reuse_operator=reuse_operator,
        )
        result = _view(uow, registration, oa)
        uow.commit()
        return result


def back_to_qualifications(context: Context, oa_id: int, registration_id: int) -> bool:
    """Step 5's "back": choose the qualifications again (nothing else changes). Returns the certification
    choice made before, for step 4 to show again (the operator's choice is kept on the registration)."""
    with context.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        chosen = registration.back()
        uow.registrations.save(registration)
        uow.commit()
        return chosen


# ---------------------------------------------------------------- step 5: account info → pending


def _check_email(uow: UnitOfWork, email: str) -> str:
    normalized = validate_email_format(email)
    ensure_email_available(
        normalized,
        used_on_platform=uow.accounts.identifier_taken(normalized),
        bound_to_personal_wechat=uow.accounts.bound_to_personal_wechat(normalized),
    )
    return normalized


def account_problems(context: Context, email: str, password: str, password_confirm: str) -> list[DomainError]:
    """Every refusal of step 5's form at once (the page shows them together): the email (format, taken on the
    platform, bound to a personal WeChat account) and the password (strength, confirmation). Read only."""
    problems = password_problems(password, password_confirm)
    with context.uow(readonly=True) as uow:
        try:
            _check_email(uow, email)
        except DomainError as problem:
            problems.insert(0, problem)
    return problems


def submit_account(
    context: Context,
    oa_id: int,
    registration_id: int,
    email: str,
    password: str,
    password_confirm: str,
    mp_name: str | None = None,
) -> RegistrationView:
    """Validate the MP account, reserve the email platform-wide, move to pending and send the activation mail.
    The password is hashed (argon2) before the transaction opens."""
    password_hash = "" if password_problems(password, password_confirm) else context.passwords.hash(password)
    with context.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.step != ACCOUNT_STEP:
            raise DomainError(Err.WRONG_STATE)
        normalized = _check_email(uow, email)
        validate_password(password, password_confirm)
        name = validate_mp_name(mp_name)
        oa = _oa(uow, oa_id)
        _expire_stale(uow, context, oa)
        ensure_eligible(eligibility_facts(uow, context, oa), Stage.START)
        uow.accounts.claim_identifier(normalized, "email")
        registration.submit_account(email=normalized, password_hash=password_hash, mp_name=name, now=now)
        uow.registrations.save(registration)  # a second pending registration is refused here (61057)
        token = _new_activation(uow, context, registration)
        _audit(uow, AuditKind.ACCOUNT_SUBMITTED, _actor(uow, registration), oa.appid, email=normalized)
        result = _view(uow, registration, oa)
        _send_activation(uow, context, normalized, token, oa.name)
        uow.commit()
    return result


def _new_activation(uow: UnitOfWork, context: Context, registration: Registration, field: str | None = None) -> str:
    """A new activation link (the previous ones stop working), at most one mail a minute."""
    now = uow.clock.now()
    registration.send_activation(now, interval_seconds=context.settings.activation_resend_interval_seconds, field=field)
    subject = str(registration.id)
    uow.credentials.revoke_unused(CredentialKind.ACTIVATION.value, subject, now)
    raw = secrets.new_token(24)
    uow.credentials.add(
        Credential(
            token_hash=secrets.token_hash(raw),
            kind=CredentialKind.ACTIVATION.value,
            subject=subject,
            data={"email": registration.email},
            issued_at=now,
            expires_at=now + timedelta(seconds=context.settings.activation_ttl_seconds),
        )
    )
    uow.registrations.save(registration)
    return raw


def activation_url(platform: Context, token: str) -> str:
    return platform.url(f"/activate/{token}")


def _send_activation(uow: UnitOfWork, context: Context, email: str, token: str, oa_name: str) -> None:
    """Queue the activation mail in ``uow``'s transaction (the worker sends it after the commit)."""
    from fastreg.services import pushes

    url = activation_url(context, token)
    hours = context.settings.activation_ttl_seconds // 3600
    pushes.queue_mail(context, uow, email, "activation", oa_name=oa_name, email=email, url=url, hours=hours)


# ---------------------------------------------------------------- step 6: activation


def resend_activation(context: Context, oa_id: int, registration_id: int) -> RegistrationView:
    """A new link (the previous one stops working), at most once a minute."""
    with context.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        token = _new_activation(uow, context, registration)
        oa = _oa(uow, oa_id)
        _audit(uow, AuditKind.ACTIVATION_SENT, _actor(uow, registration), oa.appid)
        result = _view(uow, registration, oa)
        email = str(registration.email)
        _send_activation(uow, context, email, token, oa.name)
        uow.commit()
    return result


def change_email(context: Context, oa_id: int, registration_id: int, email: str) -> bool:
    """Step 6's "change the email": release the old address, reserve the new one, send a new link (under the
    resend's limit of one mail a minute). The address it already has changes nothing and sends nothing: False."""
    with context.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.step != ACTIVATION_STEP:
            raise DomainError(Err.WRONG_STATE)
        if validate_email_format(email) == registration.email:
            return False
        interval = context.settings.activation_resend_interval_seconds
        registration.ensure_mail_allowed(now, interval_seconds=interval, field="email")
        normalized = _check_email(uow, email)
        previous = registration.change_email(normalized, now)
        _release(uow, previous)
        uow.accounts.claim_identifier(normalized, "email")
        token = _new_activation(uow, context, registration, "email")
        oa = _oa(uow, oa_id)
        _audit(
            uow,
            AuditKind.EMAIL_CHANGED,
            _actor(uow, registration),
            oa.appid,
            email=normalized,
            previous=previous,
        )
        _send_activation(uow, context, normalized, token, oa.name)
        uow.commit()
    return True


def activate(context: Context, token: str) -> RegistrationView:
    """The link in the activation mail: single-use, valid 48 hours."""
    with context.uow() as uow:
        now = uow.clock.now()
        credential = uow.credentials.credential(secrets.token_hash(token))
        if credential is None or credential.kind != CredentialKind.ACTIVATION or credential.used_at is not None:
            raise DomainError(Err.ACTIVATION_INVALID)
        if credential.expires_at <= now:
            raise DomainError(Err.ACTIVATION_EXPIRED)
        registration = uow.registrations.get(int(credential.subject))
        if registration is None:
            raise DomainError(Err.ACTIVATION_INVALID)
        registration.activate(now)
        if not uow.credentials.use(credential, now):
            raise DomainError(Err.ACTIVATION_INVALID)
        uow.registrations.save(registration)
        oa = _oa(uow, registration.oa_id)
        _audit(uow, AuditKind.ACTIVATED, str(registration.email), oa.appid)
        result = _view(uow, registration, oa)
        uow.commit()
        return result


# ---------------------------------------------------------------- step 7: bind admin → completed


def bind_admin(context: Context, oa_id: int, registration_id: int, wxid: str | None) -> ConfirmationView:
    """Ask the chosen admin (a wxid typed in, or the reused operator) to confirm on the phone page. While one
    admin is asked, the same admin keeps the same code; another admin gets a new code (the first one's is
    closed); an expired or cancelled code is replaced by a new one."""
    with context.uow() as uow:
        now = uow.clock.now()
        registration = _registration(uow, oa_id, registration_id)
        if registration.step != ADMIN_STEP:
            raise DomainError(Err.WRONG_STATE)
        operator = uow.accounts.operator(registration.operator_id) if registration.operator_id else None
        typed = validate_wxid(wxid) if wxid and wxid.strip() else None
        admin = chosen_admin(typed, registration.reuse_operator, operator.wxid if operator else None)
        if not admin:
            raise DomainError(Err.WXID_INVALID, field="admin_wxid")
        oa = _oa(uow, oa_id)
        existing = _confirmation(uow, registration.admin_confirmation_id)
        if existing is not None and _waiting(existing, now):
            if existing.allowed_wxid == admin:
                return confirmations.view(uow, context, existing, now)
            # Another admin chosen while the first was asked: the first one's code stops working.
            uow.confirmations.close(existing, now)
        confirmation = confirmations.create(
            uow,
            now,
            context,
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
        registration.bind_admin(admin, confirmation.id, now)
        uow.registrations.save(registration)
        result = confirmations.view(uow, context, confirmation, now)
        uow.commit()
        return result


def on_admin_answered(
    context: Context, uow: UnitOfWork, confirmation: Confirmation, action: str, wxid: str
) -> str | None:
    registration = _answered(uow, confirmation)
    if registration.admin_confirmation_id != confirmation.id:
        raise DomainError(Err.CONFIRMATION_CLOSED)
    if action != confirmations.CONFIRM:
        return None
    registration.ensure_admin_confirmation(confirmation.id)
    now = uow.clock.now()
    oa = _oa(uow, registration.oa_id)
    _audit(uow, AuditKind.ADMIN_BOUND, wxid, oa.appid)
    uow.registrations.save(registration)  # written before the completion's own writes
    completion = Completion(
        registration_id=registration.id,
        channel=Channel.CONSOLE,
        reuse_certification=bool(registration.reuse_certification),
        started_at=registration.created_at,
        mp_name=registration.mp_name,
        email=registration.email,
        password_hash=registration.password_hash,
        activated=registration.activated,
    )
    scan_valid = registration.scan_valid(_confirmation(uow, registration.scan_confirmation_id), oa.admin_wxid)
    mp = complete(uow, context, oa, completion, actor=wxid, admin_wxid=wxid, scan_valid=scan_valid)
    registration.complete(mp_id=mp.id, admin_wxid=wxid, now=now)
    uow.registrations.save(registration)
    return None


def completion_refusal(context: Context, oa_id: int, registration_id: int) -> DomainError | None:
    """Why a pending registration could not complete now (the completion rules of rules.md: the principal's
    limit, the blacklist, the month's quota, ...), or None. Read only: the admin-binding step shows it while it
    waits for the admin, whose confirmation would be refused for that reason."""
    with context.uow(readonly=True) as uow:
        registration = _registration(uow, oa_id, registration_id)
        if registration.status != RegistrationStatus.PENDING:
            return None
        oa = _oa(uow, oa_id)
        facts = eligibility_facts(uow, context, oa, ignore_registration_id=registration.id)
        scan_valid = registration.scan_valid(_confirmation(uow, registration.scan_confirmation_id), oa.admin_wxid)
        completing = facts.at_completion(
            reuse_certification=bool(registration.reuse_certification), scan_valid=scan_valid
        )
        return first_refusal(completing, Stage.COMPLETE)


def admin_status(context: Context, oa_id: int, registration_id: int) -> tuple[str, str | None]:
    """(registration status, admin confirmation status) for the polling page."""
    return _polled_status(context, oa_id, registration_id, lambda r: r.admin_confirmation_id)


# ---------------------------------------------------------------- cancel


def cancel(context: Context, oa_id: int, registration_id: int) -> RegistrationView:
    with context.uow() as uow:
        registration = _registration(uow, oa_id, registration_id)
        _release(uow, registration.cancel(uow.clock.now()))
        uow.registrations.save(registration)
        oa = _oa(uow, oa_id)
        _audit(uow, AuditKind.CANCELLED, _actor(uow, registration), oa.appid)
        result = _view(uow, registration, oa)
        uow.commit()
        return result


def expire_stale(context: Context) -> int:
    """The worker's sweep: close the open registrations untouched for longer than the pending TTL (pages and
    polls only read, counting them expired). Returns how many OAs had one."""
    with context.uow(readonly=True) as uow:
        cutoff = uow.clock.now() - timedelta(seconds=context.settings.pending_ttl_seconds)
        oa_ids = uow.registrations.oas_with_stale_open(cutoff)
    if not oa_ids:
        return 0
    with context.uow() as uow:
        for oa_id in oa_ids:
            _expire_stale(uow, context, uow.accounts.official_account_by_id(oa_id))
        uow.commit()
    return len(oa_ids)
