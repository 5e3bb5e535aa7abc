"""Demo data for a fresh sandbox: four Official Accounts (verified enterprise, individual business,
unverified, personal), each with a fixed operator login and admin wxid, and one published component.
Identifiers and secrets are fixed too, and the component's token and EncodingAESKey derive from the platform's
secret key, so the printed credentials stay the same across runs, resets and reseeds. Seeding is
idempotent: accounts that exist are left as they are."""

from __future__ import annotations

from dataclasses import dataclass

from fastreg.domain import secrets
from fastreg.domain.entities import Component, OfficialAccount
from fastreg.domain.errors import DomainError
from fastreg.domain.model import PrincipalType
from fastreg.services import pushes
from fastreg.services.accounts import component_of, create_component, create_official_account
from fastreg.services.ports import Context, UnitOfWork

DEMO_PASSWORD = "demo1234"


@dataclass(frozen=True)
class DemoOfficialAccount:
    label: str
    appid: str
    secret: str
    name: str
    principal_name: str
    principal_type: PrincipalType
    verified: bool
    operator_email: str
    operator_password: str
    admin_wxid: str


@dataclass(frozen=True)
class DemoComponent:
    appid: str
    secret: str
    name: str
    redirect_domain: str


@dataclass(frozen=True)
class DemoComponentInfo:
    spec: DemoComponent
    token: str
    encoding_aes_key: str
    verify_ticket: str


@dataclass(frozen=True)
class DemoData:
    official_accounts: list[DemoOfficialAccount]
    component: DemoComponentInfo
    created: int  # accounts created by this call (0 when everything was already there)


DEMO_OFFICIAL_ACCOUNTS: tuple[DemoOfficialAccount, ...] = (
    DemoOfficialAccount(
        label="verified enterprise (may fast-register 5 MPs a month)",
        appid="wxdec0de0000000001",
        secret="dec0de00000000000000000000000001",
        name="示例科技",
        principal_name="示例科技有限公司",
        principal_type=PrincipalType.ENTERPRISE,
        verified=True,
        operator_email="enterprise@demo.fastreg.dev",
        operator_password=DEMO_PASSWORD,
        admin_wxid="wxid_demo_enterprise",
    ),
    DemoOfficialAccount(
        label="verified individual business (1 MP a month)",
        appid="wxdec0de0000000002",
        secret="dec0de00000000000000000000000002",
        name="老街小吃",
        principal_name="老街小吃店",
        principal_type=PrincipalType.INDIVIDUAL_BUSINESS,
        verified=True,
        operator_email="individual@demo.fastreg.dev",
        operator_password=DEMO_PASSWORD,
        admin_wxid="wxid_demo_individual",
    ),
    DemoOfficialAccount(
        label="unverified enterprise (refused: 公众号未认证)",
        appid="wxdec0de0000000003",
        secret="dec0de00000000000000000000000003",
        name="未认证示例",
        principal_name="示例文化传播有限公司",
        principal_type=PrincipalType.ENTERPRISE,
        verified=False,
        operator_email="unverified@demo.fastreg.dev",
        operator_password=DEMO_PASSWORD,
        admin_wxid="wxid_demo_unverified",
    ),
    DemoOfficialAccount(
        label="personal (refused: 个人主体)",
        appid="wxdec0de0000000004",
        secret="dec0de00000000000000000000000004",
        name="张三的公众号",
        principal_name="张三",
        principal_type=PrincipalType.PERSONAL,
        verified=True,
        operator_email="personal@demo.fastreg.dev",
        operator_password=DEMO_PASSWORD,
        admin_wxid="wxid_demo_personal",
    ),
)

DEMO_COMPONENT = DemoComponent(
    appid="wxdec0de00000000c1",
    secret="dec0de000000000000000000000000c1",
    name="示例第三方平台",
    redirect_domain="127.0.0.1",
)


def is_empty(context: Context) -> bool:
    """No Official Account and no component yet (a fresh database)."""
    with context.uow(readonly=True) as uow:
        return not uow.accounts.has_official_accounts() and not uow.components.has_components()


def _find_component(uow: UnitOfWork, appid: str) -> Component | None:
    try:
        return uow.components.component(appid)
    except DomainError:
        return None


def _rename(uow: UnitOfWork, account: OfficialAccount | Component, appid: str, secret: str) -> None:
    """Give a demo account its fixed appid and secret (the identifier registry follows)."""
    if account.appid != appid:
        uow.accounts.release_identifier(account.appid)
        uow.accounts.claim_identifier(appid, "appid")
        account.appid = appid
    account.secret_hash = secrets.token_hash(secret)


def _seed_official_account(context: Context, spec: DemoOfficialAccount) -> bool:
    with context.uow(readonly=True) as uow:
        operator = uow.accounts.operator_with_email(spec.operator_email)
        appid = None if operator is None else uow.accounts.official_account_by_id(operator.oa_id).appid
    created = appid is None
    if appid is None:
        appid = create_official_account(
            context,
            name=spec.name,
            principal_name=spec.principal_name,
            principal_type=spec.principal_type.value,
            verified=spec.verified,
            admin_wxid=spec.admin_wxid,
            operator_email=spec.operator_email,
            operator_password=spec.operator_password,
        ).appid
    if created or appid != spec.appid:
        with context.uow() as uow:
            _rename(uow, uow.accounts.official_account(appid), spec.appid, spec.secret)
            uow.commit()
    return created


def _seed_component(context: Context, spec: DemoComponent) -> tuple[DemoComponentInfo, bool]:
    with context.uow(readonly=True) as uow:
        created = _find_component(uow, spec.appid) is None
    if created:
        new = create_component(context, name=spec.name, redirect_domain=spec.redirect_domain, published=True)
        with context.uow() as uow:
            component = component_of(uow, new.component_appid)
            _rename(uow, component, spec.appid, spec.secret)
            _fix_component_keys(context, component)
            uow.commit()
    with context.uow() as uow:
        component, now = component_of(uow, spec.appid), uow.clock.now()
        if not pushes.verify_ticket_valid(component, now):  # the printed ticket must work
            # The demo component has no callback URL: there is no push to queue.
            pushes.issue_verify_ticket(uow.pushes, now, component)
            uow.commit()
        info = DemoComponentInfo(spec, component.token, component.encoding_aes_key, component.verify_ticket or "")
    return info, created


def _fix_component_keys(context: Context, component: Component) -> None:
    """The demo component's token and EncodingAESKey, derived from the platform's secret key (kept in the data
    directory): a developer who configured them keeps them across resets and reseeds."""
    key, appid = context.secret_key, component.appid
    component.token = secrets.derived_alphanumeric(key, f"demo-token:{appid}", 32)
    component.encoding_aes_key = secrets.derived_alphanumeric(key, f"demo-aes:{appid}", 43)


def seed(context: Context) -> DemoData:
    """Create whatever demo account is missing; returns every demo account's credentials."""
    created = sum(_seed_official_account(context, spec) for spec in DEMO_OFFICIAL_ACCOUNTS)
    component, component_created = _seed_component(context, DEMO_COMPONENT)
    return DemoData(list(DEMO_OFFICIAL_ACCOUNTS), component, created + component_created)


def current(context: Context) -> DemoData | None:
    """The demo accounts present in the database (None when the demo component is not there)."""
    with context.uow(readonly=True) as uow:
        present = [s for s in DEMO_OFFICIAL_ACCOUNTS if uow.accounts.find_official_account(s.appid) is not None]
        component = _find_component(uow, DEMO_COMPONENT.appid)
        if component is None:
            return None
        info = DemoComponentInfo(
            DEMO_COMPONENT, component.token, component.encoding_aes_key, component.verify_ticket or ""
        )
    return DemoData(present, info, 0)


def describe(data: DemoData, console_url: str) -> str:
    """The demo logins and credentials as printed by ``fastreg serve`` and ``fastreg demo``."""
    lines = [f"Demo logins (console {console_url}/login, password {DEMO_PASSWORD} for all):"]
    for oa in data.official_accounts:
        lines.append(
            f"  {oa.operator_email:<30} {oa.name}（{oa.principal_name}）— {oa.label}\n"
            f"  {'':<30} appid {oa.appid}  secret {oa.secret}  admin wxid {oa.admin_wxid}"
        )
    c = data.component
    lines.append(
        f"Demo component {c.spec.name}: component_appid {c.spec.appid}  component_appsecret {c.spec.secret}\n"
        f"  token {c.token}  encoding_aes_key {c.encoding_aes_key}  redirect domain {c.spec.redirect_domain}\n"
        f"  component_verify_ticket {c.verify_ticket}"
    )
    return "\n".join(lines)
