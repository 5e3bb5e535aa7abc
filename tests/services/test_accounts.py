"""services/accounts.py, basic_info.py, versions.py and demo.py on the fake unit of work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import (
    Component,
    Credential,
    Identifier,
    MiniProgram,
    OfficialAccount,
    Operator,
    Principal,
    SandboxState,
)
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.versions import PlatformVersion
from fastreg.services import basic_info, demo, sessions, versions
from fastreg.services.accounts import ALL_PERMISSION_SETS, create_component, create_official_account
from fastreg.services.pushes import VERIFY_TICKET_TTL_SECONDS
from tests.fakes import FakeContext

from .accounts_fakes import START, WatchedPasswords, fake_context


@pytest.fixture
def context() -> FakeContext:
    return fake_context()[0]


def passwords_of(context: FakeContext) -> WatchedPasswords:
    assert isinstance(context.passwords, WatchedPasswords)
    return context.passwords


def test_an_official_account_comes_with_its_principal_operator_and_identifiers(context: FakeContext) -> None:
    new = create_official_account(
        context,
        name="公众号",
        principal_name="某公司",
        principal_type="enterprise",
        operator_email=" Op@Example.com",
        operator_password="Operator2026",
    )
    store = context.store
    [oa], [principal], [operator] = store.all(OfficialAccount), store.all(Principal), store.all(Operator)
    assert (oa.appid, oa.original_id, oa.admin_wxid) == (new.appid, new.original_id, new.admin_wxid)
    assert oa.secret_hash == secrets.token_hash(new.secret) and new.secret not in oa.secret_hash
    assert oa.principal_id == principal.id and (principal.name, principal.type) == ("某公司", "enterprise")
    assert oa.verified and oa.verify_expires_at == START + timedelta(days=365)
    assert operator.oa_id == oa.id and operator.wxid == oa.admin_wxid
    assert context.passwords.verify(operator.password_hash, "Operator2026")
    taken = {row.value: row.kind for row in store.all(Identifier)}
    assert taken == {new.appid: "appid", new.original_id: "original_id", "op@example.com": "email"}


def test_a_principal_is_shared_by_its_official_accounts_and_an_unverified_one_has_no_expiry(
    context: FakeContext,
) -> None:
    create_official_account(context, name="甲", principal_name="某公司", principal_type="enterprise")
    create_official_account(context, name="乙", principal_name="某公司", principal_type="enterprise", verified=False)
    assert len(context.store.all(Principal)) == 1
    second = context.store.all(OfficialAccount)[1]
    assert not second.verified and second.verify_expires_at is None


def test_a_taken_operator_email_is_refused_and_nothing_is_kept(context: FakeContext) -> None:
    create_official_account(
        context, name="甲", principal_name="甲公司", principal_type="enterprise", operator_email="op@example.com"
    )
    before = {kind: len(context.store.all(kind)) for kind in (OfficialAccount, Principal, Operator, Identifier)}
    with pytest.raises(DomainError) as taken:
        create_official_account(
            context, name="乙", principal_name="乙公司", principal_type="enterprise", operator_email="OP@example.com"
        )
    assert taken.value.err is Err.EMAIL_TAKEN
    assert {kind: len(context.store.all(kind)) for kind in before} == before


def test_a_weak_password_is_refused_before_any_work(context: FakeContext) -> None:
    with pytest.raises(DomainError):
        create_official_account(
            context, name="甲", principal_name="甲公司", principal_type="enterprise", operator_password="short"
        )
    assert context.store.all(Principal) == [] and passwords_of(context).cheap_asked == []


def test_the_operator_password_is_hashed_before_the_transaction(context: FakeContext) -> None:
    create_official_account(context, name="甲", principal_name="甲公司", principal_type="enterprise")
    assert passwords_of(context).cheap_asked and passwords_of(context).inside_transaction == []


@pytest.mark.parametrize("mode", ["sandbox", "production"])
def test_the_cheap_hash_is_only_for_the_sandbox(mode: str) -> None:
    context, passwords = fake_context(mode)
    create_official_account(context, name="甲", principal_name="甲公司", principal_type="enterprise")
    create_official_account(
        context, name="乙", principal_name="乙公司", principal_type="enterprise", sandbox_only_cheap_password_hash=True
    )
    assert passwords.cheap_asked == [False, mode == "sandbox"]


def test_a_component_holds_every_permission_set_and_a_first_verify_ticket(context: FakeContext) -> None:
    new = create_component(context, name="平台", redirect_domain="TP.Example.com")
    [component] = context.store.all(Component)
    assert component.appid == new.component_appid and component.redirect_domain == "tp.example.com"
    assert component.permission_sets == ALL_PERMISSION_SETS and component.secret_hash == secrets.token_hash(
        new.component_appsecret
    )
    assert component.verify_ticket == new.component_verify_ticket and component.verify_ticket_at == START
    [ticket] = context.store.all(Credential)
    assert ticket.token_hash == secrets.token_hash(new.component_verify_ticket)
    assert (ticket.kind, ticket.subject, ticket.component_id) == ("verify_ticket", new.component_appid, component.id)
    assert ticket.expires_at == START + timedelta(seconds=VERIFY_TICKET_TTL_SECONDS)
    assert {row.value for row in context.store.all(Identifier)} == {new.component_appid}


def test_a_component_with_a_bad_callback_url_is_refused(context: FakeContext) -> None:
    with pytest.raises(DomainError) as refused:
        create_component(context, name="平台", redirect_domain="tp.example.com", callback_url="ftp://x")
    assert refused.value.err is Err.INVALID_PARAMETER and refused.value.field == "callback_url"
    assert context.store.all(Component) == [] and context.store.all(Identifier) == []


def test_basic_info_of_an_official_account_a_mini_program_and_neither(context: FakeContext) -> None:
    oa = create_official_account(context, name="公众号", principal_name="某公司", principal_type="enterprise")
    answer = basic_info.account_basic_info(context, oa.appid)
    assert (answer["appid"], answer["account_type"], answer["principal_name"]) == (oa.appid, 2, "某公司")
    assert answer["nickname"] == "公众号"
    principal = context.store.all(Principal)[0]
    context.store.add(
        MiniProgram(
            appid="wxmp0000000000001",
            secret_hash="x",
            original_id="gh_mp",
            name=None,
            principal_id=principal.id,
            created_via="fast_register",
            status="normal",
            created_at=START,
        )
    )
    mp = basic_info.account_basic_info(context, "wxmp0000000000001")
    assert (mp["account_type"], mp["nickname"], mp["principal_name"]) == (3, "", "某公司")
    with pytest.raises(DomainError) as unknown:
        basic_info.account_basic_info(context, "wxunknown")
    assert unknown.value.err is Err.UNAUTHORIZED_API


def test_the_sandbox_platform_version_is_pinned_and_read_back(context: FakeContext) -> None:
    default = versions.current(context)
    assert default.version == default.default == PlatformVersion.V2021_06_01
    other = PlatformVersion.V2023_12_25.value
    pinned = versions.set_version(context, other)
    assert pinned.version.value == other and pinned.default == default.default
    with pytest.raises(ValueError):
        versions.set_version(context, "1999-01")
    assert versions.current(context).version.value == other


def test_outside_the_sandbox_the_configured_version_holds() -> None:
    context, _ = fake_context("production")
    context.store.add(SandboxState(key=versions.STATE_KEY, value={"version": PlatformVersion.V2023_12_25.value}))
    assert versions.current(context).version == versions.configured(context)


def test_demo_seeding_is_idempotent_and_its_logins_work(context: FakeContext) -> None:
    assert demo.is_empty(context) and demo.current(context) is None
    first = demo.seed(context)
    assert first.created == len(demo.DEMO_OFFICIAL_ACCOUNTS) + 1 and not demo.is_empty(context)
    appids = {oa.appid for oa in context.store.all(OfficialAccount)}
    assert appids == {spec.appid for spec in demo.DEMO_OFFICIAL_ACCOUNTS}
    assert {row.value for row in context.store.all(Identifier) if row.kind == "appid"} >= appids
    [component] = context.store.all(Component)
    assert component.appid == demo.DEMO_COMPONENT.appid
    assert component.secret_hash == secrets.token_hash(demo.DEMO_COMPONENT.secret)
    assert component.token == secrets.derived_alphanumeric(context.secret_key, f"demo-token:{component.appid}", 32)
    spec = demo.DEMO_OFFICIAL_ACCOUNTS[0]
    assert sessions.login(context, sessions.OPERATOR, spec.operator_email, demo.DEMO_PASSWORD).csrf_token
    again = demo.seed(context)
    assert again.created == 0 and again.component == first.component
    assert len(context.store.all(OfficialAccount)) == len(demo.DEMO_OFFICIAL_ACCOUNTS)
    assert demo.current(context) == again


def test_demo_reissues_the_verify_ticket_once_it_is_stale(context: FakeContext) -> None:
    first = demo.seed(context).component.verify_ticket
    assert demo.seed(context).component.verify_ticket == first
    assert isinstance(context.clock, FixedClock)
    context.clock.advance(VERIFY_TICKET_TTL_SECONDS)
    renewed = demo.seed(context).component.verify_ticket
    assert renewed != first
    assert context.store.first(Credential, lambda row: row.token_hash == secrets.token_hash(renewed)) is not None
