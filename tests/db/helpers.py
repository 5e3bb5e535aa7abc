"""Small builders shared by the service tests: accounts and tickets made through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from fastreg.adapters.db.models import Component
from fastreg.platform import Platform
from fastreg.services import confirmations
from fastreg.services.accounts import (
    ALL_PERMISSION_SETS,
    NewComponent,
    NewOfficialAccount,
    create_component,
    create_official_account,
)
from fastreg.services.authorization import grant_authorization
from fastreg.services.fastregister import open_auth_page


@dataclass
class Setup:
    oa: NewOfficialAccount
    component: NewComponent
    component_id: int


def make_oa(platform: Platform, principal_type: str = "enterprise", **fields: object) -> NewOfficialAccount:
    fields.setdefault("name", f"{principal_type} OA")
    fields.setdefault("principal_name", f"{principal_type} principal {id(fields)}")
    return create_official_account(platform, principal_type=principal_type, **fields)  # type: ignore[arg-type]


def make_component(platform: Platform, **fields: object) -> tuple[NewComponent, int]:
    fields.setdefault("name", "Test component")
    fields.setdefault("redirect_domain", "tp.example.com")
    component = create_component(platform, **fields)  # type: ignore[arg-type]
    with platform.uow(readonly=True) as uow:
        component_id = uow.session.execute(
            select(Component.id).where(Component.appid == component.component_appid)
        ).scalar_one()
    return component, component_id


def setup(platform: Platform, principal_type: str = "enterprise", **oa_fields: object) -> Setup:
    return connect(platform, make_oa(platform, principal_type, **oa_fields))


def connect(platform: Platform, oa: NewOfficialAccount) -> Setup:
    """A new component that the OA has authorized (every permission set, the fast-registration one included)."""
    component, component_id = make_component(platform)
    with platform.uow() as uow:
        grant_authorization(platform, uow, component_id, oa.appid, ALL_PERMISSION_SETS, 3600)
        uow.commit()
    return Setup(oa, component, component_id)


def issue_ticket(platform: Platform, s: Setup, copy_wx_verify: bool = True) -> str:
    page = open_auth_page(
        platform, s.oa.appid, s.component.component_appid, copy_wx_verify, "https://tp.example.com/done?x=1"
    )
    answered = confirmations.answer(platform, page.id, s.oa.admin_wxid, "confirm")
    assert answered.redirect_url is not None
    return parse_qs(urlparse(answered.redirect_url).query)["ticket"][0]
