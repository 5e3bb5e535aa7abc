"""Accounts put straight into a fake store for the service tests on ``FakeContext`` (no database)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from fastreg.domain import secrets
from fastreg.domain.entities import (
    Authorization,
    Component,
    Confirmation,
    Credential,
    MiniProgram,
    OfficialAccount,
    Principal,
    PushJob,
)
from fastreg.domain.model import ConfirmationKind, ConfirmationStatus
from fastreg.services import confirmations
from tests.fakes import FakeContext

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_numbers = count(1)


def principal(ctx: FakeContext) -> Principal:
    return ctx.store.add(Principal(name=f"principal {next(_numbers)}", type="enterprise"))


def oa(ctx: FakeContext, *, name: str = "An OA") -> OfficialAccount:
    n = next(_numbers)
    return ctx.store.add(
        OfficialAccount(
            appid=f"wxoa{n:012d}",
            secret_hash="-",
            original_id=f"gh_oa{n:07d}",
            name=name,
            principal_id=principal(ctx).id,
            admin_wxid=f"wxid_oa_admin_{n}",
            created_at=T0,
        )
    )


def mp(ctx: FakeContext, *, name: str | None = "An MP", **fields: object) -> MiniProgram:
    n = next(_numbers)
    fields.setdefault("admin_wxid", f"wxid_mp_admin_{n}")
    return ctx.store.add(
        MiniProgram(
            appid=f"wxmp{n:012d}",
            secret_hash="-",
            original_id=f"gh_mp{n:07d}",
            name=name,
            principal_id=principal(ctx).id,
            created_via="open_api",
            status="active",
            created_at=T0,
            **fields,  # type: ignore[arg-type]
        )
    )


def component(ctx: FakeContext, *, callback_url: str | None = "https://tp.example.com/callback") -> Component:
    n = next(_numbers)
    return ctx.store.add(
        Component(
            appid=f"wxcp{n:012d}",
            secret_hash="-",
            name=f"Component {n}",
            redirect_domain="tp.example.com",
            callback_url=callback_url,
            permission_sets=[1, 18, 65],
            token="token",
            encoding_aes_key="k" * 43,
            created_at=T0,
        )
    )


def pending(ctx: FakeContext, kind: ConfirmationKind, account_appid: str) -> Confirmation:
    """The account's newest confirmation of ``kind`` still waiting for an answer."""
    now = ctx.clock.now()
    waiting = [
        c
        for c in ctx.store.all(Confirmation)
        if c.kind == kind.value
        and c.account_appid == account_appid
        and c.status == ConfirmationStatus.PENDING.value
        and c.expires_at > now
    ]
    assert waiting, f"no pending {kind} confirmation for {account_appid}"
    return waiting[-1]


def answer(ctx: FakeContext, confirmation: Confirmation, action: str, wxid: str | None = None) -> str | None:
    """The phone page's answer on the fake: the confirmation is closed and its kind's handler (the one
    ``confirmations.HANDLERS`` names) runs in the same unit of work, which commits only if it succeeds."""
    module_name, _, function = confirmations.HANDLERS[confirmation.kind].partition(":")
    handler = getattr(importlib.import_module(module_name), function)
    with ctx.uow() as uow:
        confirmation.status = (
            ConfirmationStatus.CONFIRMED if action == confirmations.CONFIRM else ConfirmationStatus.CANCELLED
        ).value
        confirmation.answered_at = uow.clock.now()
        redirect: str | None = handler(ctx, uow, confirmation, action, wxid or confirmation.allowed_wxid)
        uow.commit()
    return redirect


def token(ctx: FakeContext, kind: str, subject: str, *, component_id: int | None = None, ttl: int = 7200) -> str:
    """A stored bearer token (``access_token``, ``authorizer_token``, ``component_token``, ...); returns it."""
    raw = f"token-{next(_numbers)}"
    now = ctx.clock.now()
    ctx.store.add(
        Credential(
            token_hash=secrets.token_hash(raw),
            kind=kind,
            subject=subject,
            component_id=component_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return raw


def authorize(ctx: FakeContext, component: Component, appid: str, func_info: list[int]) -> Authorization:
    now = ctx.clock.now()
    return ctx.store.add(
        Authorization(
            component_id=component.id,
            authorizer_appid=appid,
            refresh_token_seed=f"seed-{next(_numbers)}",
            refresh_token_hash="-",
            func_info=list(func_info),
            created_at=now,
            authorized_at=now,
        )
    )


def pushes_to(ctx: FakeContext, component: Component) -> list[dict[str, Any]]:
    """The messages queued for the component's callback, oldest first."""
    return [job.payload["message"] for job in ctx.store.all(PushJob) if job.component_id == component.id]
