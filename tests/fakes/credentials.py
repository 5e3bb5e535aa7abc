"""In-memory repositories of the credentials area (``services/ports/credentials.py``) for the service tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastreg.domain.entities import (
    AuditEvent,
    Authorization,
    Component,
    Credential,
    CredentialValues,
    Identifier,
    Link,
    MiniProgram,
    MonthlyCounter,
    OfficialAccount,
    Principal,
    Registration,
    SandboxState,
)
from fastreg.domain.rules import EligibilityFacts, QuotaStatus, monthly_limit
from fastreg.domain.versions import PlatformVersion
from fastreg.services.ports.credentials import (
    ClaimAndFacts,
    CompletionWrite,
    CompletionWritten,
    Facts,
    FactsQuery,
    FastRegisterContext,
    OpenedToken,
    QuotaSpend,
    Spent,
    TicketClaim,
)
from tests.fakes.store import FakeStore, entity_of

REGISTRATION_COUNTER = "registration"


class FakeCredentialRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def add(self, credential: CredentialValues, /) -> None:
        self._store.add(entity_of(Credential, credential))

    def credential(self, token_hash: str) -> Credential | None:
        return self._store.first(Credential, lambda row: row.token_hash == token_hash)

    def use(self, credential: Credential, now: datetime) -> bool:
        if credential.used_at is not None:
            return False
        credential.used_at = now
        return True

    def revoke_unused(self, kind: str, subject: str, now: datetime) -> None:
        for row in self._store.where(Credential, lambda r: r.kind == kind and r.subject == subject):
            if row.used_at is None:
                row.used_at = now

    def token_subject(self, token_hash: str) -> str | None:
        from fastreg.domain.entities import Credential

        found = self._store.first(Credential, lambda c: c.token_hash == token_hash)
        return None if found is None else found.subject


@dataclass(frozen=True)
class _Written:
    mp_id: int


class FakeFastRegisterGateway:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def open_with_token(self, token_hash: str) -> OpenedToken:
        credential = self._store.first(Credential, lambda row: row.token_hash == token_hash)
        if credential is None:
            return OpenedToken(None)
        oa = self._store.first(OfficialAccount, lambda row: row.appid == credential.subject)
        if oa is None:
            return OpenedToken(credential)
        component = self._store.first(Component, lambda row: row.id == credential.component_id)
        if component is None:
            return OpenedToken(credential, for_oa=True)
        return OpenedToken(credential, for_oa=True, context=self._context(oa, component))

    def context(self, oa_appid: str, component_id: int) -> FastRegisterContext | None:
        oa = self._store.first(OfficialAccount, lambda row: row.appid == oa_appid)
        component = self._store.first(Component, lambda row: row.id == component_id)
        return None if oa is None or component is None else self._context(oa, component)

    def _context(self, oa: OfficialAccount, component: Component) -> FastRegisterContext:
        authorization = self._store.first(
            Authorization, lambda row: row.component_id == component.id and row.authorizer_appid == oa.appid
        )
        return FastRegisterContext(
            id=oa.id,
            appid=oa.appid,
            name=oa.name,
            principal_id=oa.principal_id,
            verified=oa.verified,
            verify_expires_at=oa.verify_expires_at,
            overseas=oa.overseas,
            admin_wxid=oa.admin_wxid,
            principal_type=self._principal(oa.principal_id).type,
            component_id=component.id,
            component_appid=component.appid,
            published=component.published,
            permission_sets=list(component.permission_sets),
            redirect_domain=component.redirect_domain,
            authorized_func_info=None if authorization is None else list(authorization.func_info),
        )

    def claim_and_facts(self, claim: TicketClaim, query: FactsQuery, spend: QuotaSpend) -> ClaimAndFacts:
        ticket = self._store.first(
            Credential,
            lambda row: (
                row.token_hash == claim.token_hash
                and row.kind == claim.kind
                and row.used_at is None
                and row.expires_at > query.now
                and row.subject == claim.subject
                and row.component_id == claim.component_id
            ),
        )
        if ticket is not None:
            ticket.used_at = query.now
        facts = self.facts(query)
        return ClaimAndFacts(None if ticket is None else dict(ticket.data or {}), facts, self.spend(spend))

    def facts(self, query: FactsQuery) -> Facts:
        oa = query.oa
        principal = self._principal(oa.principal_id)
        counter = self._counter(oa.id, query.month)
        pending = self._store.first(
            Registration,
            lambda row: (
                row.oa_id == oa.id
                and row.status == "pending"
                and row.updated_at > query.stale_before
                and row.id != query.ignore_registration_id
            ),
        )
        eligibility = EligibilityFacts(
            oa=oa,
            principal=principal,
            principal_mp_count=principal.mp_count,
            quota=QuotaStatus(
                month=query.month,
                limit=monthly_limit(principal.type, query.limits),
                used=0 if counter is None else counter.used,
            ),
            has_pending=pending is not None,
            now=query.now,
            limits=query.limits,
        )
        return Facts(eligibility, self._stored_version() if query.sandbox else None)

    def spend(self, spend: QuotaSpend) -> Spent:
        counted = self._count(spend.oa_id, spend.month, spend.monthly_limit)
        principal = self._principal(spend.principal_id)
        principal_counted = principal.mp_count < spend.principal_limit
        if principal_counted:
            principal.mp_count += 1
        return Spent(counted=counted, principal_counted=principal_counted)

    def write_completion(self, write: CompletionWrite) -> CompletionWritten:
        mp = entity_of(MiniProgram, write.mini_program)
        for value, kind in ((mp.appid, "appid"), (mp.original_id, "original_id")):
            if self._store.first(Identifier, lambda row, v=value: row.value == v) is not None:
                raise AssertionError(f"unique constraint: identifier {value!r}")
            self._store.add(Identifier(value=value, kind=kind))
        self._store.add(mp)
        link = write.link
        self._store.add(
            Link(
                oa_id=write.oa_id,
                mp_id=mp.id,
                status=link.status,
                linked_via=link.linked_via,
                show_profile=link.show_profile,
                notify_users=link.notify_users,
                created_at=link.created_at,
                linked_at=link.linked_at,
            )
        )
        if write.registration is not None:
            registration = entity_of(Registration, write.registration)
            registration.mp_id = mp.id
            self._store.add(registration)
        for event in write.audit:
            self._store.add(entity_of(AuditEvent, event))
        if write.authorization is not None:
            self._store.add(entity_of(Authorization, write.authorization))
        if write.authorization_code is not None:
            self._store.add(entity_of(Credential, write.authorization_code))
        return _Written(mp.id)

    def _principal(self, principal_id: int) -> Principal:
        principal = self._store.first(Principal, lambda row: row.id == principal_id)
        assert principal is not None, "referred to by a foreign key"
        return principal

    def _counter(self, oa_id: int, month: str) -> MonthlyCounter | None:
        return self._store.first(
            MonthlyCounter,
            lambda row: row.oa_id == oa_id and row.kind == REGISTRATION_COUNTER and row.month == month,
        )

    def _count(self, oa_id: int, month: str, limit: int) -> bool:
        """As the SQL upsert: a new month's counter starts at 1; an existing one counts only below ``limit``."""
        counter = self._counter(oa_id, month)
        if counter is None:
            self._store.add(MonthlyCounter(oa_id=oa_id, kind=REGISTRATION_COUNTER, month=month, used=1))
            return True
        if counter.used >= limit:
            return False
        counter.used += 1
        return True

    def _stored_version(self) -> PlatformVersion | None:
        state = self._store.first(SandboxState, lambda row: row.key == "platform_version")
        try:
            return PlatformVersion(str((state.value if state else {})["version"]))
        except (KeyError, ValueError):
            return None
