"""Authorizations on the fake unit of work: the consent page's checks and its confirmation, authorization codes
(reusable until they expire, 61009 for another component's, 61010 once expired), one refresh token per
authorization (a new one on every authorization, 61023 for the earlier), 授权互斥 for the fast-registration
set (the other component loses it and hears ``updateauthorized``), and the authorizer info and list."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from fastreg.domain import secrets
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import AuditEvent, Authorization, Component, Confirmation, MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import ConfirmationKind
from fastreg.domain.rules import FASTREGISTER_PERMISSION_SET
from fastreg.services import authorization as auth
from fastreg.services.credentials import CredentialKind
from fastreg.services.tokens import Caller
from tests.fakes import FakeContext

from . import seed

REDIRECT = "https://tp.example.com/done?state=1"
FAST = FASTREGISTER_PERMISSION_SET


def caller(component: Component) -> Caller:
    return Caller(CredentialKind.COMPONENT_TOKEN, component.appid, None)


def grant(ctx: FakeContext, component: Component, appid: str, func_info: list[int]) -> str:
    with ctx.uow() as uow:
        code = auth.grant_authorization(ctx, uow, component.id, appid, func_info, 600)
        uow.commit()
    return code


def exchange(ctx: FakeContext, component: Component, code: str) -> dict[str, object]:
    info: dict[str, object] = auth.query_auth(ctx, caller(component), component.appid, code)["authorization_info"]
    return info


def refused(err: Err, call: object, *args: object, **kwargs: object) -> None:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.err is err


def only(ctx: FakeContext, component: Component, appid: str) -> Authorization:
    (found,) = [
        a for a in ctx.store.all(Authorization) if (a.component_id, a.authorizer_appid) == (component.id, appid)
    ]
    return found


# ---------------------------------------------------------------- codes and refresh tokens


def test_a_code_is_exchanged_until_it_expires(ctx: FakeContext, fake_clock: FixedClock) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    code = grant(ctx, component, oa.appid, [1, FAST])
    info = exchange(ctx, component, code)
    assert info["authorizer_appid"] == oa.appid and info["expires_in"] == ctx.settings.token_ttl_seconds
    assert info["func_info"] == [{"funcscope_category": {"id": 1}}, {"funcscope_category": {"id": FAST}}]
    assert str(info["authorizer_refresh_token"]).startswith(auth.REFRESH_TOKEN_PREFIX)
    again = exchange(ctx, component, code)  # the consent redirect and the push carry the same code
    assert again["authorizer_refresh_token"] == info["authorizer_refresh_token"]
    assert again["authorizer_access_token"] != info["authorizer_access_token"]
    other = seed.component(ctx)
    refused(Err.INVALID_AUTH_CODE, exchange, ctx, other, code)
    refused(Err.INVALID_AUTH_CODE, exchange, ctx, component, "no-such-code")
    fake_clock.advance(601)
    refused(Err.AUTH_CODE_EXPIRED, exchange, ctx, component, code)


def test_only_the_components_own_token_names_it(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    code = grant(ctx, component, oa.appid, [1])
    other = seed.component(ctx)
    refused(Err.INVALID_APPID, auth.query_auth, ctx, caller(other), component.appid, code)
    as_account = Caller(CredentialKind.ACCESS_TOKEN, component.appid, None)
    refused(Err.INVALID_APPID, auth.query_auth, ctx, as_account, component.appid, code)


def test_authorizing_again_replaces_the_refresh_token(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    first = str(exchange(ctx, component, grant(ctx, component, oa.appid, [1]))["authorizer_refresh_token"])
    refreshed = auth.refresh_authorizer_token(ctx, caller(component), component.appid, oa.appid, first)
    assert refreshed["authorizer_refresh_token"] == first and refreshed["authorizer_access_token"]
    second = str(exchange(ctx, component, grant(ctx, component, oa.appid, [1, 18]))["authorizer_refresh_token"])
    assert second != first
    refused(
        Err.INVALID_REFRESH_TOKEN,
        auth.refresh_authorizer_token,
        ctx,
        caller(component),
        component.appid,
        oa.appid,
        first,
    )
    auth.refresh_authorizer_token(ctx, caller(component), component.appid, oa.appid, second)
    assert len(ctx.store.all(Authorization)) == 1 and only(ctx, component, oa.appid).func_info == [1, 18]
    other = seed.component(ctx)
    refused(Err.INVALID_REFRESH_TOKEN, auth.refresh_authorizer_token, ctx, caller(other), other.appid, oa.appid, second)


def test_a_refresh_token_issued_before_they_were_derived_still_works(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    grant(ctx, component, oa.appid, [1])
    only(ctx, component, oa.appid).refresh_token_hash = secrets.token_hash("refreshtoken@@@legacy")
    auth.refresh_authorizer_token(ctx, caller(component), component.appid, oa.appid, "refreshtoken@@@legacy")


# ---------------------------------------------------------------- 授权互斥


def test_the_fast_registration_set_moves_to_the_last_component(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    first, second, quiet = seed.component(ctx), seed.component(ctx), seed.component(ctx, callback_url=None)
    grant(ctx, first, oa.appid, [1, FAST])
    grant(ctx, quiet, oa.appid, [FAST, 18])
    assert only(ctx, first, oa.appid).func_info == [1]
    grant(ctx, second, oa.appid, [1, FAST])
    assert (only(ctx, quiet, oa.appid).func_info, only(ctx, second, oa.appid).func_info) == ([18], [1, FAST])
    (told,) = seed.pushes_to(ctx, first)
    assert (told["InfoType"], told["AuthorizerAppid"]) == ("updateauthorized", oa.appid)
    assert exchange(ctx, first, str(told["AuthorizationCode"]))["func_info"] == [{"funcscope_category": {"id": 1}}]
    assert seed.pushes_to(ctx, quiet) == []  # no callback URL, nothing to tell


def test_other_sets_are_not_exclusive(ctx: FakeContext) -> None:
    oa = seed.oa(ctx)
    first, second = seed.component(ctx), seed.component(ctx)
    grant(ctx, first, oa.appid, [1, FAST])
    grant(ctx, second, oa.appid, [1, 18])
    assert only(ctx, first, oa.appid).func_info == [1, FAST]
    assert seed.pushes_to(ctx, first) == []


# ---------------------------------------------------------------- the consent page


def pre_auth_code(ctx: FakeContext, component: Component) -> str:
    return seed.token(ctx, "pre_auth_code", component.appid, component_id=component.id, ttl=1800)


def test_the_consent_page_checks_its_parameters(ctx: FakeContext) -> None:
    oa, mp, component = seed.oa(ctx), seed.mp(ctx), seed.component(ctx)
    code = pre_auth_code(ctx, component)
    open_consent = auth.open_consent
    refused(Err.INVALID_APPID, open_consent, ctx, "wxnocomponent", code, REDIRECT, 3, oa.appid)
    refused(Err.INVALID_CODE, open_consent, ctx, component.appid, "nope", REDIRECT, 3, oa.appid)
    refused(
        Err.INVALID_CODE,
        open_consent,
        ctx,
        component.appid,
        pre_auth_code(ctx, seed.component(ctx)),
        REDIRECT,
        3,
        oa.appid,
    )
    refused(Err.INVALID_REDIRECT, open_consent, ctx, component.appid, code, "https://evil.example.net/", 3, oa.appid)
    refused(Err.INVALID_APPID, open_consent, ctx, component.appid, code, REDIRECT, 2, oa.appid)  # MPs only
    refused(Err.INVALID_APPID, open_consent, ctx, component.appid, code, REDIRECT, 1, mp.appid)  # OAs only
    refused(Err.INVALID_APPID, open_consent, ctx, component.appid, code, REDIRECT, 3, "wxnobody")
    no_admin = seed.mp(ctx, admin_wxid=None)
    refused(Err.INVALID_APPID, open_consent, ctx, component.appid, code, REDIRECT, 3, no_admin.appid)
    assert ctx.store.all(Confirmation) == []


def test_the_admin_confirms_the_consent_page(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    page = auth.open_consent(ctx, component.appid, pre_auth_code(ctx, component), REDIRECT, 3, oa.appid, opener="n")
    assert (page.account_appid, page.account_name, page.component_name) == (oa.appid, oa.name, component.name)
    asked = seed.pending(ctx, ConfirmationKind.COMPONENT_AUTH, oa.appid)
    assert page.confirmation_url.endswith(page.confirmation_id) and asked.allowed_wxid == oa.admin_wxid
    assert asked.payload["opener_hash"] == secrets.token_hash("n")
    redirect = seed.answer(ctx, asked, "confirm")
    assert redirect is not None and redirect.startswith("https://tp.example.com/done?state=1&auth_code=")
    query = parse_qs(urlsplit(redirect).query)
    assert query["expires_in"] == ["600"]
    assert exchange(ctx, component, query["auth_code"][0])["authorizer_appid"] == oa.appid
    (pushed,) = seed.pushes_to(ctx, component)
    assert (pushed["InfoType"], pushed["AuthorizationCode"]) == ("authorized", query["auth_code"][0])
    assert any(e.kind == "component_authorized" and e.oa_appid == oa.appid for e in ctx.store.all(AuditEvent))


def test_a_cancelled_consent_authorizes_nothing(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    auth.open_consent(ctx, component.appid, pre_auth_code(ctx, component), REDIRECT, 3, oa.appid)
    assert seed.answer(ctx, seed.pending(ctx, ConfirmationKind.COMPONENT_AUTH, oa.appid), "cancel") is None
    assert ctx.store.all(Authorization) == [] and seed.pushes_to(ctx, component) == []


# ---------------------------------------------------------------- authorizer info and list


def test_authorizer_info_of_an_oa_and_of_a_fast_registered_mp(ctx: FakeContext) -> None:
    oa, component = seed.oa(ctx), seed.component(ctx)
    mp = seed.mp(ctx, certified=True)
    grant(ctx, component, oa.appid, [1])
    grant(ctx, component, mp.appid, [18])
    oa_info = auth.authorizer_info(ctx, caller(component), component.appid, oa.appid)
    assert oa_info["authorizer_info"]["user_name"] == oa.original_id
    assert (
        oa_info["authorizer_info"]["service_type_info"] == {"id": 2}
        and "MiniProgramInfo" not in oa_info["authorizer_info"]
    )
    assert oa_info["authorization_info"]["func_info"] == [{"funcscope_category": {"id": 1}}]
    mp_info = auth.authorizer_info(ctx, caller(component), component.appid, mp.appid)["authorizer_info"]
    assert (mp_info["register_type"], mp_info["verify_type_info"], "MiniProgramInfo" in mp_info) == (2, {"id": 0}, True)
    refused(Err.INVALID_APPID, auth.authorizer_info, ctx, caller(component), component.appid, seed.oa(ctx).appid)


def test_authorizer_list_pages_oldest_first(ctx: FakeContext) -> None:
    component = seed.component(ctx)
    accounts: list[OfficialAccount | MiniProgram] = [seed.oa(ctx), seed.mp(ctx), seed.oa(ctx)]
    for account in accounts:
        grant(ctx, component, account.appid, [1])
    grant(ctx, seed.component(ctx), seed.oa(ctx).appid, [1])  # another component's
    page = auth.authorizer_list(ctx, caller(component), component.appid, 1, 5)
    assert page["total_count"] == 3
    assert [item["authorizer_appid"] for item in page["list"]] == [a.appid for a in accounts[1:]]
    assert page["list"][0]["auth_time"] == int(seed.T0.timestamp())
    refused(Err.COUNT_LIMIT, auth.authorizer_list, ctx, caller(component), component.appid, 0, 501)
    refused(Err.INVALID_PARAMETER, auth.authorizer_list, ctx, caller(component), component.appid, -1, 5)
    refused(Err.INVALID_PARAMETER, auth.authorizer_list, ctx, caller(component), component.appid, 0, 0)


def test_a_new_account_is_authorized_with_a_code(ctx: FakeContext) -> None:
    component, mp = seed.component(ctx), seed.mp(ctx)
    with ctx.uow() as uow:
        code = auth.authorize_new_account(uow, uow.clock.now(), component.id, mp.appid, [1, 18], 600)
        uow.commit()
    assert exchange(ctx, component, code)["authorizer_appid"] == mp.appid
    assert auth.is_official_account(ctx.uow(), mp.appid) is False
