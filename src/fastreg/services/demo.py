"""Demo data for a fresh sandbox: four Official Accounts (verified enterprise, individual business,
unverified, personal), each with a fixed operator login and admin wxid, and one published component.
Identifiers and secrets are fixed too, and the component's token and EncodingAESKey derive from the platform's
secret key, so the printed credentials stay the same across runs, resets and reseeds. Seeding is
idempotent: accounts that exist are left as they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import delete, func, select

from fastreg.adapters import crypto
from fastreg.adapters.db.models import Component, Identifier, OfficialAccount, Operator
from fastreg.domain.model import PrincipalType
from fastreg.platform import Platform
from fastreg.services import pushes
from fastreg.services.accounts import create_component, create_official_account

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


def is_empty(platform: Platform) -> bool:
    """No Official Account and no component yet (a fresh database)."""
    with platform.uow(readonly=True) as uow:
        accounts = uow.session.execute(select(func.count()).select_from(OfficialAccount)).scalar_one()
        components = uow.session.execute(select(func.count()).select_from(Component)).scalar_one()
    return not accounts and not components


def _rename(
    platform: Platform, model: type[OfficialAccount] | type[Component], row_id: int, appid: str, secret: str
) -> None:
    """Give a just-created demo account its fixed appid and secret (the identifier registry follows)."""
    with platform.uow() as uow:
        session = uow.session
        row = cast("OfficialAccount | Component | None", session.get(model, row_id))
        assert row is not None
        if row.appid != appid:
            session.execute(delete(Identifier).where(Identifier.value == row.appid))
            session.add(Identifier(value=appid, kind="appid"))
            row.appid = appid
        row.secret_hash = crypto.token_hash(secret)
        uow.commit()


def _seed_official_account(platform: Platform, spec: DemoOfficialAccount) -> bool:
    with platform.uow(readonly=True) as uow:
        existing = uow.session.execute(
            select(OfficialAccount.id, OfficialAccount.appid)
            .join(Operator, Operator.oa_id == OfficialAccount.id)
            .where(Operator.email == spec.operator_email)
        ).first()
    created = existing is None
    if existing is None:
        with platform.uow() as uow:
            new = create_official_account(
                uow,
                name=spec.name,
                principal_name=spec.principal_name,
                principal_type=spec.principal_type.value,
                verified=spec.verified,
                admin_wxid=spec.admin_wxid,
                operator_email=spec.operator_email,
                operator_password=spec.operator_password,
            )
        with platform.uow(readonly=True) as uow:
            oa_id = uow.session.execute(
                select(OfficialAccount.id).where(OfficialAccount.appid == new.appid)
            ).scalar_one()
        _rename(platform, OfficialAccount, oa_id, spec.appid, spec.secret)
    elif existing.appid != spec.appid:
        _rename(platform, OfficialAccount, existing.id, spec.appid, spec.secret)
    return created


def _seed_component(platform: Platform, spec: DemoComponent) -> tuple[DemoComponentInfo, bool]:
    with platform.uow(readonly=True) as uow:
        existing = uow.session.execute(select(Component).where(Component.appid == spec.appid)).scalar_one_or_none()
    created = existing is None
    if existing is None:
        with platform.uow() as uow:
            new = create_component(uow, name=spec.name, redirect_domain=spec.redirect_domain, published=True)
        with platform.uow(readonly=True) as uow:
            row_id = uow.session.execute(
                select(Component.id).where(Component.appid == new.component_appid)
            ).scalar_one()
        _rename(platform, Component, row_id, spec.appid, spec.secret)
        _fix_component_keys(platform, spec)
    with platform.uow() as uow:
        component = uow.session.execute(select(Component).where(Component.appid == spec.appid)).scalar_one()
        if not pushes.verify_ticket_valid(component, uow.clock.now()):  # the printed ticket must work
            pushes.issue_verify_ticket(uow.pushes, uow.clock.now(), component)
            uow.commit()
        info = DemoComponentInfo(spec, component.token, component.encoding_aes_key, component.verify_ticket or "")
    return info, created


def _fix_component_keys(platform: Platform, spec: DemoComponent) -> None:
    """The demo component's token and EncodingAESKey, derived from the platform's secret key (kept in the data
    directory): a developer who configured them keeps them across resets and reseeds."""
    with platform.uow() as uow:
        component = uow.session.execute(select(Component).where(Component.appid == spec.appid)).scalar_one()
        component.token = crypto.derived_alphanumeric(platform.secret_key, f"demo-token:{spec.appid}", 32)
        component.encoding_aes_key = crypto.derived_alphanumeric(platform.secret_key, f"demo-aes:{spec.appid}", 43)
        uow.commit()


def seed(platform: Platform) -> DemoData:
    """Create whatever demo account is missing; returns every demo account's credentials."""
    created = sum(_seed_official_account(platform, spec) for spec in DEMO_OFFICIAL_ACCOUNTS)
    component, component_created = _seed_component(platform, DEMO_COMPONENT)
    return DemoData(list(DEMO_OFFICIAL_ACCOUNTS), component, created + component_created)


def current(platform: Platform) -> DemoData | None:
    """The demo accounts present in the database (None when the demo component is not there)."""
    with platform.uow(readonly=True) as uow:
        present = set(
            uow.session.execute(
                select(OfficialAccount.appid).where(
                    OfficialAccount.appid.in_([s.appid for s in DEMO_OFFICIAL_ACCOUNTS])
                )
            ).scalars()
        )
        component = uow.session.execute(
            select(Component).where(Component.appid == DEMO_COMPONENT.appid)
        ).scalar_one_or_none()
        if component is None:
            return None
        info = DemoComponentInfo(
            DEMO_COMPONENT, component.token, component.encoding_aes_key, component.verify_ticket or ""
        )
    return DemoData([s for s in DEMO_OFFICIAL_ACCOUNTS if s.appid in present], info, 0)


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
