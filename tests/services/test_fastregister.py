"""The fast-registration use cases on the fake unit of work: the rules of ``account/fastregister`` (the token,
the single-use ticket, quota, principal limit, single pending registration, 授权互斥, the redirect URI), what a
completion writes, and that a refusal leaves everything as it was (and is audited). The database's part (the
ticket's claim and the counts under concurrency) is in ``tests/db/test_repositories_credentials.py``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import (
    AuditEvent,
    Authorization,
    Component,
    Credential,
    Link,
    MiniProgram,
    OfficialAccount,
    Principal,
    Registration,
    SandboxState,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.rules import FASTREGISTER_PERMISSION_SET
from fastreg.services import credentials
from fastreg.services.credentials import CredentialKind
from fastreg.services.fastregister import fastregister, fastregister_with_token
from tests.fakes import FakeContext
from tests.fakes.store import FakeStore, entity_of

START = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
PERMISSIONS = [1, 3, 17, 18, 30, 31, FASTREGISTER_PERMISSION_SET]


@dataclass
class World:
    context: FakeContext
    principal: Principal
    oa: OfficialAccount
    component: Component
    authorization: Authorization

    @property
    def store(self) -> FakeStore:
        return self.context.store

    def ticket(self, *, copy_wx_verify: bool = True, oa: OfficialAccount | None = None, ttl: int = 300) -> str:
        """A ticket as the admin's confirmation issues it."""
        raw, credential = credentials.new(
            self.context.clock.now(),
            CredentialKind.TICKET,
            (oa or self.oa).appid,
            ttl,
            component_id=self.component.id,
            data={"copy_wx_verify": copy_wx_verify, "redirect_uri": "https://tp.example.com/done?x=1"},
        )
        self.store.add(entity_of(Credential, credential))
        return raw

    def token(self, kind: CredentialKind, subject: str, component_id: int | None, ttl: int = 7200) -> str:
        raw, credential = credentials.new(self.context.clock.now(), kind, subject, ttl, component_id=component_id)
        self.store.add(entity_of(Credential, credential))
        return raw

    def authorizer_token(self) -> str:
        return self.token(CredentialKind.AUTHORIZER_TOKEN, self.oa.appid, self.component.id)

    def count(self, kind: type) -> int:
        return len(self.store.all(kind))


def make_world(principal_type: str = "enterprise", **oa_fields: object) -> World:
    context = FakeContext(clock=FixedClock(START))
    store = context.store
    principal = store.add(Principal(name="Principal", type=principal_type))
    oa = store.add(
        OfficialAccount(
            appid=secrets.new_appid(),
            secret_hash=secrets.token_hash("oa-secret"),
            original_id=secrets.new_original_id(),
            name="The OA",
            principal_id=principal.id,
            admin_wxid="wxid_admin",
            created_at=START,
            **oa_fields,  # type: ignore[arg-type]
        )
    )
    component = store.add(
        Component(
            appid=secrets.new_appid(),
            secret_hash=secrets.token_hash("component-secret"),
            name="Test component",
            redirect_domain="tp.example.com",
            permission_sets=list(PERMISSIONS),
            token="token",
            encoding_aes_key="k" * 43,
            created_at=START,
        )
    )
    authorization = store.add(
        Authorization(
            component_id=component.id,
            authorizer_appid=oa.appid,
            refresh_token_seed="seed",
            refresh_token_hash="hash",
            func_info=list(PERMISSIONS),
            created_at=START,
            authorized_at=START,
        )
    )
    return World(context, principal, oa, component, authorization)


def register(w: World, ticket: str) -> str:
    return fastregister(w.context, w.oa.appid, w.component.id, ticket).appid


def refusal(w: World, ticket: str) -> Err:
    with pytest.raises(DomainError) as refused:
        fastregister(w.context, w.oa.appid, w.component.id, ticket)
    return refused.value.err


# ---------------------------------------------------------------- what a completion writes


def test_a_ticket_registers_a_certified_linked_mp_authorized_to_the_component() -> None:
    w = make_world(verified=True)
    result = fastregister(w.context, w.oa.appid, w.component.id, w.ticket())
    assert result.is_wx_verify_succ and result.is_link_succ
    (mp,) = w.store.all(MiniProgram)
    assert (mp.appid, mp.certified, mp.created_via, mp.principal_id) == (result.appid, True, "open_api", w.principal.id)
    (link,) = w.store.all(Link)
    assert (link.oa_id, link.mp_id, link.linked_via, link.show_profile, link.notify_users) == (
        w.oa.id,
        mp.id,
        "fast_register",
        False,
        False,
    )
    (registration,) = w.store.all(Registration)
    assert (registration.status, registration.channel, registration.mp_id) == ("completed", "open_api", mp.id)
    new_authorization = w.store.first(Authorization, lambda a: a.authorizer_appid == mp.appid)
    assert new_authorization is not None and new_authorization.func_info == PERMISSIONS
    code = w.store.first(Credential, lambda c: c.token_hash == secrets.token_hash(result.authorization_code))
    assert code is not None and (code.kind, code.subject, code.component_id) == ("auth_code", mp.appid, w.component.id)
    assert w.principal.mp_count == 1
    assert [e.kind for e in w.store.all(AuditEvent)] == ["completed", "linked"]
    assert w.context.observer.registrations == [("completed", 0)]


def test_without_certification_reuse_the_mp_is_not_certified() -> None:
    w = make_world()
    result = fastregister(w.context, w.oa.appid, w.component.id, w.ticket(copy_wx_verify=False))
    assert not result.is_wx_verify_succ
    (mp,) = w.store.all(MiniProgram)
    assert not mp.certified


def test_the_sandbox_version_without_certification_at_registration_makes_it_uncertified() -> None:
    w = make_world()
    w.store.add(SandboxState(key="platform_version", value={"version": "2023-12-25"}))
    result = fastregister(w.context, w.oa.appid, w.component.id, w.ticket(copy_wx_verify=True))
    assert not result.is_wx_verify_succ
    (mp,) = w.store.all(MiniProgram)
    assert not mp.certified


# ---------------------------------------------------------------- the ticket


def test_a_ticket_is_single_use() -> None:
    w = make_world()
    ticket = w.ticket()
    register(w, ticket)
    assert refusal(w, ticket) is Err.SCAN_INVALID
    assert w.count(MiniProgram) == 1


def test_an_expired_ticket_is_refused() -> None:
    w = make_world()
    ticket = w.ticket(ttl=60)
    w.context.clock.advance(61)
    assert refusal(w, ticket) is Err.SCAN_INVALID


def test_a_ticket_of_another_oa_is_refused_and_stays_usable() -> None:
    w = make_world()
    other = w.store.add(replace(w.oa, appid=secrets.new_appid(), original_id=secrets.new_original_id()))
    ticket = w.ticket(oa=other)
    assert refusal(w, ticket) is Err.SCAN_INVALID
    (stored,) = [c for c in w.store.all(Credential) if c.token_hash == secrets.token_hash(ticket)]
    assert stored.used_at is None


def test_a_refusal_rolls_the_claim_back_and_is_audited() -> None:
    """The component changed its redirect domain since: 61060, and the ticket stays usable once it is fixed."""
    w = make_world()
    ticket = w.ticket()
    w.component.redirect_domain = "elsewhere.example.com"
    assert refusal(w, ticket) is Err.INVALID_REDIRECT
    assert w.count(MiniProgram) == 0 and w.principal.mp_count == 0
    (audited,) = w.store.all(AuditEvent)
    assert (audited.kind, audited.detail) == ("refused", {"errcode": 61060})
    w.component.redirect_domain = "tp.example.com"
    register(w, ticket)
    assert w.count(MiniProgram) == 1


def test_a_permission_set_moved_to_another_component_is_unauthorized() -> None:
    w = make_world()
    w.authorization.func_info = [n for n in PERMISSIONS if n != FASTREGISTER_PERMISSION_SET]
    assert refusal(w, w.ticket()) is Err.UNAUTHORIZED_API
    assert w.count(MiniProgram) == 0


# ---------------------------------------------------------------- quota, principal, pending


def test_five_a_month_then_61055_until_the_next_month() -> None:
    w = make_world()
    for _ in range(5):
        register(w, w.ticket())
    assert refusal(w, w.ticket()) is Err.QUOTA_EXCEEDED
    assert w.count(MiniProgram) == 5
    assert [e.kind for e in w.store.all(AuditEvent)][-1] == "quota_refused"
    w.context.clock.set(datetime(2026, 12, 1, 4, 0, tzinfo=UTC))
    register(w, w.ticket())
    assert w.count(MiniProgram) == 6


def test_an_individual_business_gets_one_a_month() -> None:
    w = make_world("individual_business")
    register(w, w.ticket())
    assert refusal(w, w.ticket()) is Err.QUOTA_EXCEEDED


def test_the_principal_limit_is_61053() -> None:
    w = make_world()
    w.principal.mp_count = w.context.settings.principal_mp_limit
    assert refusal(w, w.ticket()) is Err.PRINCIPAL_LIMIT
    assert w.count(MiniProgram) == 0


def test_a_pending_registration_blocks_until_it_goes_stale() -> None:
    w = make_world()
    w.store.add(Registration(oa_id=w.oa.id, channel="console", status="pending", created_at=START, updated_at=START))
    assert refusal(w, w.ticket()) is Err.PENDING_EXISTS
    w.context.clock.advance(w.context.settings.pending_ttl_seconds + 1)
    register(w, w.ticket())


def test_an_unverified_oa_is_61052() -> None:
    w = make_world(verified=False)
    assert refusal(w, w.ticket()) is Err.NOT_VERIFIED


def test_an_unknown_oa_is_40013() -> None:
    w = make_world()
    with pytest.raises(DomainError) as refused:
        fastregister(w.context, "wxunknown", w.component.id, w.ticket())
    assert refused.value.err is Err.INVALID_APPID


# ---------------------------------------------------------------- the access token


def with_token(w: World, token: str | None, ticket: str) -> Err:
    with pytest.raises(DomainError) as refused:
        fastregister_with_token(w.context, token, ticket)
    return refused.value.err


def test_the_authorizer_token_of_the_oa_registers() -> None:
    w = make_world()
    result = fastregister_with_token(w.context, w.authorizer_token(), w.ticket())
    assert w.store.first(MiniProgram, lambda mp: mp.appid == result.appid) is not None


def test_the_token_is_checked_first() -> None:
    w = make_world()
    ticket = w.ticket()
    assert with_token(w, None, ticket) is Err.TOKEN_MISSING
    assert with_token(w, "unknown", ticket) is Err.INVALID_CREDENTIAL
    expired = w.token(CredentialKind.AUTHORIZER_TOKEN, w.oa.appid, w.component.id, ttl=10)
    w.context.clock.advance(10)
    assert with_token(w, expired, ticket) is Err.TOKEN_EXPIRED
    pre_auth = w.token(CredentialKind.PRE_AUTH_CODE, w.component.appid, w.component.id)
    assert with_token(w, pre_auth, ticket) is Err.INVALID_CREDENTIAL
    assert w.store.all(AuditEvent) == []  # token errors are not audited refusals


def test_the_oa_s_own_token_is_61058_and_an_mp_s_token_48001() -> None:
    w = make_world()
    ticket = w.ticket()
    own = w.token(CredentialKind.ACCESS_TOKEN, w.oa.appid, None)
    assert with_token(w, own, ticket) is Err.SCAN_INVALID
    mp_appid = fastregister_with_token(w.context, w.authorizer_token(), w.ticket()).appid
    for token in (
        w.token(CredentialKind.ACCESS_TOKEN, mp_appid, None),
        w.token(CredentialKind.AUTHORIZER_TOKEN, mp_appid, w.component.id),
    ):
        assert with_token(w, token, ticket) is Err.UNAUTHORIZED_API


def test_a_used_token_credential_is_refused() -> None:
    w = make_world()
    token = w.authorizer_token()
    (stored,) = [c for c in w.store.all(Credential) if c.token_hash == secrets.token_hash(token)]
    stored.used_at = START - timedelta(seconds=1)
    assert with_token(w, token, w.ticket()) is Err.INVALID_CREDENTIAL
