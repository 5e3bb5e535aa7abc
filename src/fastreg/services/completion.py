"""Completing a fast registration, the same for both channels: in the caller's transaction, re-check
eligibility, spend the quota atomically, create the MP under the OA's principal, link it (exempt from the
13/month limit, no follower notice, not on the profile), certify it when certification is reused, audit it.

The quota and the principal's MP count are spent first by conditional statements (for the Open API in the
ticket's round trip), and refused here when either limit was reached (which rolls the counts back with the
transaction); then the writes go through the hot path's gateway (``uow.fastregister.write_completion``) all at
once, with the commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastreg.domain import secrets
from fastreg.domain.entities import AuthorizationValues, CredentialValues, MiniProgramValues, RegistrationValues
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import AuditKind, Channel, LinkedVia, LinkStatus, RegistrationStatus
from fastreg.domain.rules import (
    ComponentFacts,
    Stage,
    calendar_month,
    ensure_eligible,
    fast_registration_link,
    next_status,
)
from fastreg.domain.versions import PlatformVersion, certification_at_completion
from fastreg.services import audit, credentials
from fastreg.services.credentials import CredentialKind
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.ports.credentials import (
    CompletionWrite,
    CompletionWritten,
    EligibleAccount,
    Facts,
    FactsQuery,
    NewLink,
    QuotaSpend,
    Spent,
)


@dataclass(frozen=True)
class Completion:
    """What completing needs to know of the registration."""

    registration_id: int | None  # None: the Open API channel, whose registration row is written here
    channel: Channel
    reuse_certification: bool
    started_at: datetime
    mp_name: str | None = None
    email: str | None = None
    password_hash: str | None = None
    activated: bool = False
    component_id: int | None = None


@dataclass(frozen=True)
class NewAuthorization:
    """The Open API channel: the new MP authorized to the component that registered it, with a code for
    ``api_query_auth``."""

    component_id: int
    func_info: list[int]
    refresh_token_seed: str
    refresh_token_hash: str
    code_ttl_seconds: int


@dataclass(frozen=True)
class CreatedMiniProgram:
    written: CompletionWritten
    appid: str
    certified: bool
    certified_until: datetime | None
    authorization_code: str | None = None

    @property
    def id(self) -> int:
        """Read when asked: the Open API's answer does without it, and its writes go with the commit."""
        return self.written.mp_id


def facts_query(context: Context, oa: EligibleAccount, now: datetime, registration_id: int | None = None) -> FactsQuery:
    """What the eligibility facts of ``oa`` are read for now (``registration_id``: the pending registration
    being completed, which does not block itself). A pending registration left longer than its time to live
    has expired, even before anything marks it so."""
    settings = context.settings
    return FactsQuery(
        oa=oa,
        now=now,
        month=calendar_month(now, settings.timezone),
        stale_before=now - timedelta(seconds=settings.pending_ttl_seconds),
        limits=context.limits,
        sandbox=settings.is_sandbox,
        ignore_registration_id=registration_id,
    )


def version_in_force(context: Context, facts: Facts) -> PlatformVersion:
    return facts.stored_version or PlatformVersion(context.settings.platform_version)


def quota_spend(context: Context, oa: EligibleAccount, month: str, monthly_limit: int) -> QuotaSpend:
    return QuotaSpend(
        oa_id=oa.id,
        principal_id=oa.principal_id,
        month=month,
        monthly_limit=monthly_limit,
        principal_limit=context.limits.principal_mps,
    )


def complete(
    uow: UnitOfWork,
    context: Context,
    oa: EligibleAccount,
    completion: Completion,
    *,
    actor: str,
    admin_wxid: str | None,
    scan_valid: bool = True,
    component: ComponentFacts | None = None,
    facts: Facts | None = None,
    spent: Spent | None = None,
    authorize: NewAuthorization | None = None,
) -> CreatedMiniProgram:
    """``facts``: the OA's eligibility facts when the caller read them already (in its own round trip), and
    ``spent``: the quota it spent right after reading them; ``authorize``: the new MP's authorization to the
    registering component, written with it."""
    if spent is not None and facts is None:
        raise ValueError("the facts are read before the quota is spent: pass the facts read with it")
    now = uow.clock.now()
    if facts is None:
        facts = uow.fastregister.facts(facts_query(context, oa, now, completion.registration_id))
    eligibility = facts.eligibility.at_completion(
        reuse_certification=completion.reuse_certification, scan_valid=scan_valid, component=component
    )
    ensure_eligible(eligibility, Stage.COMPLETE)
    quota = eligibility.quota
    if quota.limit <= 0:
        raise DomainError(Err.QUOTA_EXCEEDED, limit=quota.limit)
    if spent is None:
        spent = uow.fastregister.spend(quota_spend(context, oa, quota.month, quota.limit))
    # Refused in the order of the errcode table; the raise rolls the counts back with the transaction.
    if not spent.principal_counted:
        raise DomainError(Err.PRINCIPAL_LIMIT)
    if not spent.counted:
        raise DomainError(Err.QUOTA_EXCEEDED, limit=quota.limit)
    certification = certification_at_completion(
        version_in_force(context, facts), completion.reuse_certification, oa, now
    )
    mp = MiniProgramValues(
        appid=secrets.new_appid(),
        secret_hash=secrets.token_hash(secrets.new_secret()),
        original_id=secrets.new_original_id(),
        name=completion.mp_name,
        principal_id=oa.principal_id,
        created_by_oa_id=oa.id,
        admin_wxid=admin_wxid,
        email=completion.email,
        password_hash=completion.password_hash,
        active=completion.activated,
        certified=certification.certified,
        certified_until=certification.certified_until,
        created_via=completion.channel.value,
        status=RegistrationStatus.COMPLETED.value,
        created_at=now,
        completed_at=now,
    )
    terms = fast_registration_link()
    code, authorization, code_credential = _authorization(authorize, mp.appid, now)
    written = uow.fastregister.write_completion(
        CompletionWrite(
            oa_id=oa.id,
            mini_program=mp,
            link=NewLink(
                status=LinkStatus.LINKED.value,
                linked_via=LinkedVia.FAST_REGISTER.value,
                show_profile=terms.show_profile,
                notify_users=terms.notify_users,
                created_at=now,
                linked_at=now,
            ),
            registration=_open_api_registration(oa, completion, admin_wxid, now),
            audit=[
                audit.event(
                    now,
                    AuditKind.COMPLETED,
                    actor,
                    oa_appid=oa.appid,
                    mp_appid=mp.appid,
                    certified=certification.certified,
                    channel=completion.channel.value,
                ),
                audit.event(
                    now,
                    AuditKind.LINKED,
                    actor,
                    oa_appid=oa.appid,
                    mp_appid=mp.appid,
                    linked_via=LinkedVia.FAST_REGISTER.value,
                ),
            ],
            authorization=authorization,
            authorization_code=code_credential,
        )
    )
    uow.on_commit(lambda: context.observer.record_registration("completed"))
    return CreatedMiniProgram(written, mp.appid, certification.certified, certification.certified_until, code)


def _authorization(
    authorize: NewAuthorization | None, appid: str, now: datetime
) -> tuple[str | None, AuthorizationValues | None, CredentialValues | None]:
    """A new account has no earlier authorization and no other component to take the fast-registration
    permission set from (授权互斥): one new authorization and its code."""
    if authorize is None:
        return None, None, None
    code, credential = credentials.new(
        now,
        CredentialKind.AUTH_CODE,
        appid,
        authorize.code_ttl_seconds,
        component_id=authorize.component_id,
    )
    authorization = AuthorizationValues(
        component_id=authorize.component_id,
        authorizer_appid=appid,
        refresh_token_seed=authorize.refresh_token_seed,
        refresh_token_hash=authorize.refresh_token_hash,
        func_info=list(authorize.func_info),
        created_at=now,
        authorized_at=now,
    )
    return code, authorization, credential


def _open_api_registration(
    oa: EligibleAccount, completion: Completion, admin_wxid: str | None, now: datetime
) -> RegistrationValues | None:
    """The Open API channel's registration goes pending → completed inside this one transaction."""
    if completion.registration_id is not None:
        return None
    return RegistrationValues(
        oa_id=oa.id,
        channel=completion.channel.value,
        status=next_status(RegistrationStatus.PENDING, "completed").value,
        reuse_certification=completion.reuse_certification,
        reuse_operator=False,
        component_id=completion.component_id,
        admin_wxid=admin_wxid,
        created_at=completion.started_at,
        updated_at=now,
        completed_at=now,
    )


def record_refusal(context: Context, error: DomainError, *, actor: str, oa_appid: str) -> None:
    """A refused attempt changes nothing, but is audited (in its own transaction, after the rollback)."""
    kind = AuditKind.QUOTA_REFUSED if error.err is Err.QUOTA_EXCEEDED else AuditKind.REFUSED
    with context.uow() as uow:
        audit.record(uow.audit, uow.clock.now(), kind, actor, oa_appid=oa_appid, errcode=error.errcode)
        uow.commit()
    context.observer.record_registration("refused", error.errcode)
