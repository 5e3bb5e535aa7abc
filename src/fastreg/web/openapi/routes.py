"""The WeChat-compatible Open Platform API (``/cgi-bin/...``) and its two browser pages
(``componentloginpage`` and ``fastregisterauth``).

Bodies are read and parsed here whatever their Content-Type (WeChat clients send JSON without one); the
access token is checked before the body; every refusal is HTTP 200 ``{"errcode","errmsg"}``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from fastreg.adapters.qr import qr_png
from fastreg.domain import secrets
from fastreg.domain.errors import DomainError, Err, ErrorSpec
from fastreg.domain.model import LINK_STATUS_CODES, ConfirmationKind, LinkedVia, LinkStatus
from fastreg.platform import Platform
from fastreg.services import authorization, basic_info, confirmations, fastregister, links, tokens, verification
from fastreg.services.credentials import CredentialKind
from fastreg.services.tokens import ACCOUNT_TOKEN_KINDS, Caller
from fastreg.web.deps import get_platform, get_runner, secure_cookies
from fastreg.web.openapi import models as m
from fastreg.web.openapi.errors import (
    BODY_TOO_LARGE,
    Parsed,
    WeChatJSONResponse,
    WeChatRoute,
    errcode_table,
    ok,
    parse_json,
    read_body,
    wechat_error,
)

router = APIRouter(route_class=WeChatRoute, tags=["Open Platform API (WeChat-compatible)"])
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TOKEN_ERRORS: list[Err | ErrorSpec] = [Err.TOKEN_MISSING, Err.INVALID_CREDENTIAL, Err.TOKEN_EXPIRED]
BODY_ERRORS: list[Err | ErrorSpec] = [Err.EMPTY_POST, Err.DATA_FORMAT, Err.INVALID_PARAMETER, BODY_TOO_LARGE]
SYSTEM: list[Err | ErrorSpec] = [Err.SYSTEM]

FASTREGISTER_ERRORS: list[Err | ErrorSpec] = [
    Err.PERSONAL_PRINCIPAL,
    Err.NOT_VERIFIED,
    Err.PRINCIPAL_LIMIT,
    Err.BLACKLISTED,
    Err.QUOTA_EXCEEDED,
    Err.CERTIFICATION_REQUIRED,
    Err.PENDING_EXISTS,
    Err.SCAN_INVALID,
    Err.COMPONENT_UNPUBLISHED,
    Err.COMPONENT_PERMISSIONS,
    Err.INVALID_REDIRECT,
    Err.OVERSEAS,
]


def _responses(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"description": "Success, or a refusal as `{errcode, errmsg}` (HTTP 200, as WeChat answers)"},
        500: {"model": m.WeChatError, "description": "A crash (a bug): errcode -1, logged with a request id"},
    }


def _body(model: type[Any], *, required: bool = True) -> dict[str, Any]:
    """The request body as the OpenAPI document shows it (the route parses it itself)."""
    return {
        "requestBody": {
            "required": required,
            "description": "JSON, whatever the Content-Type says (WeChat clients send none)",
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _query_parameter(name: str, declared: Any) -> dict[str, Any]:
    """An optional string query parameter in the OpenAPI document, for a route that reads it itself."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": declared.description,
        "schema": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": declared.description,
            "title": name.replace("_", " ").title(),
        },
    }


def _limit(platform: Platform) -> int:
    return platform.settings.max_body_bytes


async def _json_body(request: Request, model: type[m.Request], *, required: bool = True) -> Parsed[Any]:
    platform = get_platform(request)
    return parse_json(await read_body(request, _limit(platform)), model, required=required)


def _authenticate(platform: Platform, token: str | None, kinds: list[CredentialKind]) -> Caller:
    return tokens.check_authenticated(platform, token, kinds)


# ---------------------------------------------------------------- account tokens


@router.get(
    "/cgi-bin/token",
    response_model=m.AccessTokenAnswer | m.WeChatError,
    responses=_responses(m.AccessTokenAnswer),
    summary="Access token of an Official Account or a Mini Program",
    description=errcode_table(
        [Err.INVALID_GRANT_TYPE, Err.INVALID_APPID, Err.INVALID_APPSECRET, *SYSTEM],
        "`grant_type=client_credential`. The token is valid 7200 s; issuing a new one leaves older unexpired "
        "ones valid.",
    ),
)
async def cgi_token(
    request: Request,
    grant_type: str | None = Query(None, examples=["client_credential"]),
    appid: str | None = Query(None),
    secret: str | None = Query(None),
) -> WeChatJSONResponse:
    platform = get_platform(request)
    issued = await get_runner(request).run(tokens.issue_account_token, platform, grant_type, appid, secret)
    return ok({"access_token": issued.token, "expires_in": issued.expires_in})


# ---------------------------------------------------------------- component flow


@router.post(
    "/cgi-bin/component/api_component_token",
    response_model=m.ComponentTokenAnswer | m.WeChatError,
    responses=_responses(m.ComponentTokenAnswer),
    summary="Component access token",
    openapi_extra=_body(m.ComponentTokenRequest),
    description=errcode_table(
        [
            *BODY_ERRORS,
            Err.INVALID_APPID,
            Err.INVALID_APPSECRET,
            Err.COMPONENT_TICKET_EXPIRED,
            Err.INVALID_VERIFY_TICKET,
            *SYSTEM,
        ],
        "Needs a `component_verify_ticket` issued (and pushed) to the component within the last 12 hours: the "
        "latest one, or an older one still valid.",
    ),
)
async def api_component_token(request: Request) -> WeChatJSONResponse:
    platform = get_platform(request)
    body: m.ComponentTokenRequest = (await _json_body(request, m.ComponentTokenRequest)).value
    issued = await get_runner(request).run(
        tokens.issue_component_token,
        platform,
        body.component_appid,
        body.component_appsecret,
        body.component_verify_ticket,
    )
    return ok({"component_access_token": issued.token, "expires_in": issued.expires_in})


@router.post(
    "/cgi-bin/component/api_start_push_ticket",
    response_model=m.Answer | m.WeChatError,
    responses=_responses(m.Answer),
    summary="Start the component_verify_ticket pushes",
    openapi_extra=_body(m.StartPushTicketRequest),
    description=errcode_table(
        [*BODY_ERRORS, Err.INVALID_APPID, Err.INVALID_APPSECRET, *SYSTEM],
        "Issues a `component_verify_ticket` now and pushes it to the component's callback URL; a new one "
        "follows every 10 minutes. Each ticket is valid 12 hours.",
    ),
)
async def api_start_push_ticket(request: Request) -> WeChatJSONResponse:
    platform = get_platform(request)
    body: m.StartPushTicketRequest = (await _json_body(request, m.StartPushTicketRequest)).value
    await get_runner(request).run(tokens.start_push_ticket, platform, body.component_appid, body.component_secret)
    return ok()


async def component_token(  # async: FastAPI runs a plain def dependency in a thread
    component_access_token: str | None = Query(None, description="from api_component_token"),
    access_token: str | None = Query(None, description="the same token by the newer documentation's name"),
) -> str | None:
    """Every component API takes its token as ``component_access_token`` (old documentation, every SDK) or as
    ``access_token`` (new documentation)."""
    return component_access_token or access_token


ComponentToken = Annotated[str | None, Depends(component_token)]
Body = TypeVar("Body", bound=m.Request)


async def _component_call(request: Request, token: str | None, model: type[Body]) -> tuple[Platform, Caller, Body]:
    """The caller behind a component access token and the parsed body (whose refusals come after the token's)."""
    platform = get_platform(request)
    parsed = await _json_body(request, model)
    caller = await get_runner(request).run(_authenticate, platform, token, [CredentialKind.COMPONENT_TOKEN])
    return platform, caller, parsed.value


@router.post(
    "/cgi-bin/component/api_create_preauthcode",
    response_model=m.PreAuthCodeAnswer | m.WeChatError,
    responses=_responses(m.PreAuthCodeAnswer),
    summary="Pre-auth code for the consent page",
    openapi_extra=_body(m.PreAuthCodeRequest),
    description=errcode_table([*TOKEN_ERRORS, *BODY_ERRORS, Err.INVALID_APPID, *SYSTEM], "Valid 1800 s."),
)
async def api_create_preauthcode(request: Request, component_access_token: ComponentToken) -> WeChatJSONResponse:
    platform, caller, body = await _component_call(request, component_access_token, m.PreAuthCodeRequest)
    issued = await get_runner(request).run(tokens.create_pre_auth_code, platform, caller, body.component_appid)
    return ok({"pre_auth_code": issued.token, "expires_in": issued.expires_in})


@router.post(
    "/cgi-bin/component/api_query_auth",
    response_model=m.QueryAuthAnswer | m.WeChatError,
    responses=_responses(m.QueryAuthAnswer),
    summary="Exchange an authorization code for the authorizer's tokens",
    openapi_extra=_body(m.QueryAuthRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.INVALID_APPID, Err.INVALID_AUTH_CODE, Err.AUTH_CODE_EXPIRED, *SYSTEM],
        "The code comes from the consent page's redirect, an `authorized` push, or `account/fastregister`. "
        "It stays valid for 600 s. `authorizer_refresh_token` is the authorization's: the same on every "
        "exchange, replaced when the account authorizes the component again.",
    ),
)
async def api_query_auth(request: Request, component_access_token: ComponentToken) -> WeChatJSONResponse:
    platform, caller, body = await _component_call(request, component_access_token, m.QueryAuthRequest)
    result = await get_runner(request).run(
        authorization.query_auth, platform, caller, body.component_appid, body.authorization_code
    )
    return ok(result)


@router.post(
    "/cgi-bin/component/api_authorizer_token",
    response_model=m.AuthorizerTokenAnswer | m.WeChatError,
    responses=_responses(m.AuthorizerTokenAnswer),
    summary="Refresh an authorizer access token",
    openapi_extra=_body(m.AuthorizerTokenRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.INVALID_APPID, Err.INVALID_REFRESH_TOKEN, *SYSTEM],
        "The refresh token stays valid (it is returned unchanged) until the account authorizes the component again.",
    ),
)
async def api_authorizer_token(request: Request, component_access_token: ComponentToken) -> WeChatJSONResponse:
    platform, caller, body = await _component_call(request, component_access_token, m.AuthorizerTokenRequest)
    result = await get_runner(request).run(
        authorization.refresh_authorizer_token,
        platform,
        caller,
        body.component_appid,
        body.authorizer_appid,
        body.authorizer_refresh_token,
    )
    return ok(result)


@router.post(
    "/cgi-bin/component/api_get_authorizer_info",
    response_model=m.AuthorizerInfoAnswer | m.WeChatError,
    responses=_responses(m.AuthorizerInfoAnswer),
    summary="Profile of an authorizer and what it authorized",
    openapi_extra=_body(m.AuthorizerInfoRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.INVALID_APPID, *SYSTEM],
        "40013 also when the account has not authorized this component. `MiniProgramInfo` only for a Mini "
        "Program; `register_type` 2 for one created by `account/fastregister`.",
    ),
)
async def api_get_authorizer_info(request: Request, component_access_token: ComponentToken) -> WeChatJSONResponse:
    platform, caller, body = await _component_call(request, component_access_token, m.AuthorizerInfoRequest)
    result = await get_runner(request).run(
        authorization.authorizer_info, platform, caller, body.component_appid, body.authorizer_appid
    )
    return ok(result)


@router.post(
    "/cgi-bin/component/api_get_authorizer_list",
    response_model=m.AuthorizerListAnswer | m.WeChatError,
    responses=_responses(m.AuthorizerListAnswer),
    summary="The accounts that authorized the component",
    openapi_extra=_body(m.AuthorizerListRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.INVALID_APPID, Err.COUNT_LIMIT, *SYSTEM],
        "`count` 1–500 from `offset`, oldest authorization first. Mini Programs created by "
        "`account/fastregister` are listed too, with their `refresh_token`: the way back after a timed-out call.",
    ),
)
async def api_get_authorizer_list(request: Request, component_access_token: ComponentToken) -> WeChatJSONResponse:
    platform, caller, body = await _component_call(request, component_access_token, m.AuthorizerListRequest)
    result = await get_runner(request).run(
        authorization.authorizer_list, platform, caller, body.component_appid, body.offset, body.count
    )
    return ok(result)


# ---------------------------------------------------------------- browser pages


def _error_page(request: Request, title: str, error: DomainError) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"title": title, "errcode": error.errcode, "errmsg": error.errmsg, "message": error.message("zh")},
    )


# The nonce of the browser that opens a QR page: only its poll of scanstatus learns the redirect.
OPENER_COOKIE = "fastreg_scan_opener"


def _opener(request: Request) -> tuple[str, bool]:
    """(this browser's opener nonce, whether the cookie must be set because it is new)."""
    nonce = request.cookies.get(OPENER_COOKIE, "")
    if 20 <= len(nonce) <= 64:
        return nonce, False
    return secrets.new_token(), True


def _scan_page(
    request: Request,
    *,
    opener: tuple[str, bool],
    title: str,
    facts: list[tuple[str, str]],
    rules: list[str],
    admin_label: str,
    confirmation_id: str,
    confirmation_url: str,
    expires_at: datetime,
) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "scan.html",
        {
            "title": title,
            "facts": facts,
            "rules": rules,
            "admin_label": admin_label,
            # The QR code is an image of its own, loaded by the browser that shows the page: a client that reads
            # the page's data-confirmation-url (an integrator's test) never pays for drawing it.
            "qr_src": f"/cgi-bin/scanqr?id={quote(confirmation_id, safe='')}",
            "confirmation_url": confirmation_url,
            "status_url": f"/cgi-bin/scanstatus?id={confirmation_id}",
            "expires_at": expires_at.astimezone(ZoneInfo(get_platform(request).settings.timezone)).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "timezone": get_platform(request).settings.timezone,
        },
    )
    response.headers["Cache-Control"] = "no-store"
    nonce, new = opener
    if new:
        response.set_cookie(
            OPENER_COOKIE,
            nonce,
            path="/cgi-bin/",
            httponly=True,
            samesite="lax",
            secure=secure_cookies(get_platform(request)),
        )
    return response


@router.get(
    "/cgi-bin/componentloginpage",
    response_class=HTMLResponse,
    summary="Consent page: an account authorizes the component (HTML)",
    description=errcode_table(
        [Err.INVALID_APPID, Err.INVALID_CODE, Err.INVALID_REDIRECT],
        "Renders a QR code (`img#scan-qr`, `data-confirmation-url`) for the admin of the account `biz_appid` "
        "(without it, a form asks for the account). Once the admin confirms on the phone page, the browser goes "
        "to `redirect_uri?auth_code=CODE&expires_in=600` (before any `#fragment`). A refusal renders an error "
        "page showing `错误码：N`.",
    ),
)
async def componentloginpage(
    request: Request,
    component_appid: str = Query(""),
    pre_auth_code: str = Query(""),
    redirect_uri: str = Query(""),
    auth_type: str = Query("3", description="1 Official Accounts, 2 Mini Programs, 3 both"),
    biz_appid: str = Query("", description="the account to authorize"),
) -> HTMLResponse:
    platform = get_platform(request)
    title = "授权给第三方平台"
    try:
        kind = int(auth_type) if auth_type.strip() in ("1", "2", "3") else 3
        if not biz_appid:
            component = await get_runner(request).run(
                _check_consent, platform, component_appid, pre_auth_code, redirect_uri
            )
            hidden = [
                ("component_appid", component_appid),
                ("pre_auth_code", pre_auth_code),
                ("redirect_uri", redirect_uri),
                ("auth_type", str(kind)),
            ]
            return templates.TemplateResponse(
                request,
                "choose_account.html",
                {"component_name": component, "hidden": hidden, "action": "/cgi-bin/componentloginpage"},
            )
        opener = _opener(request)
        consent = await get_runner(request).run(
            authorization.open_consent,
            platform,
            component_appid,
            pre_auth_code,
            redirect_uri,
            kind,
            biz_appid,
            opener=opener[0],
        )
    except DomainError as error:
        return _error_page(request, title, error)
    return _scan_page(
        request,
        title=f"授权给第三方平台「{consent.component_name}」",
        facts=[("帐号", f"{consent.account_name}（{consent.account_appid}）"), ("第三方平台", consent.component_name)],
        rules=[],
        admin_label="该帐号的管理员",
        opener=opener,
        confirmation_id=consent.confirmation_id,
        confirmation_url=consent.confirmation_url,
        expires_at=consent.expires_at,
    )


def _check_consent(platform: Platform, component_appid: str, pre_auth_code: str, redirect_uri: str) -> str:
    with platform.uow(readonly=True) as uow:
        component = authorization.check_consent_request(uow, component_appid, pre_auth_code, redirect_uri)
        return component.name


@router.get(
    "/cgi-bin/fastregisterauth",
    response_class=HTMLResponse,
    summary="Fast registration authorization page (HTML)",
    description=errcode_table(
        [Err.INVALID_APPID, Err.COMPONENT_UNPUBLISHED, Err.COMPONENT_PERMISSIONS, Err.INVALID_REDIRECT],
        "Renders a QR code (`img#scan-qr` with `data-confirmation-url`) for the OA admin and the rules they "
        "agree to; polls, and once the admin confirms, navigates to `redirect_uri` with `ticket=TICKET` "
        "appended to its query, before any `#fragment`. A refusal renders an error page showing `错误码：N`.",
    ),
)
async def fastregisterauth(
    request: Request,
    appid: str = Query("", description="the Official Account"),
    component_appid: str = Query(""),
    copy_wx_verify: str = Query("1", description="1: the MP reuses the OA's certification (微信认证)"),
    redirect_uri: str = Query(""),
) -> HTMLResponse:
    platform = get_platform(request)
    reuse = copy_wx_verify.strip().lower() in ("1", "true")
    opener = _opener(request)
    try:
        view = await get_runner(request).run(
            fastregister.open_auth_page, platform, appid, component_appid, reuse, redirect_uri, opener=opener[0]
        )
    except DomainError as error:
        return _error_page(request, "复用公众号资质快速注册小程序", error)
    component_name = str(view.payload.get("component_name", component_appid))
    rules = [
        f"使用公众号「{view.account_name}」的主体信息，由第三方平台「{component_name}」快速注册一个小程序；",
        "小程序注册后自动关联本公众号，不占用本月关联小程序的次数，不向粉丝发送模板消息，也不在公众号资料页展示；",
        "每个公众号每月可复用资质快速注册 5 个小程序（个体工商户每月 1 个）；",
        "新小程序没有登录密码，由第三方平台代为管理。",
    ]
    if reuse:
        rules.insert(1, "小程序复用公众号的微信认证资质，认证有效期与公众号一致；")
    return _scan_page(
        request,
        title="复用公众号资质快速注册小程序",
        facts=[
            ("公众号", f"{view.account_name}（{view.account_appid}）"),
            ("第三方平台", component_name),
            ("复用微信认证", "是" if reuse else "否"),
        ],
        rules=rules,
        admin_label="公众号管理员",
        opener=opener,
        confirmation_id=view.id,
        confirmation_url=view.url,
        expires_at=view.expires_at,
    )


_PAGE_KINDS = {ConfirmationKind.COMPONENT_AUTH.value, ConfirmationKind.FASTREGISTER_AUTH.value}


@router.get(
    "/cgi-bin/scanstatus",
    response_model=m.ScanStatusAnswer | m.WeChatError,
    responses=_responses(m.ScanStatusAnswer),
    summary="What the two pages poll: the state of their QR confirmation",
    description=errcode_table(
        [Err.INVALID_PARAMETER, *SYSTEM],
        "`id` is the page's confirmation id. `redirect_url` (with its ticket or code) is given only to the "
        "browser that opened the page (its `fastreg_scan_opener` cookie); anyone else learns the status alone.",
    ),
)
async def scanstatus(request: Request, id: str = Query("")) -> WeChatJSONResponse:
    view = await get_runner(request).run(_page_confirmation, get_platform(request), id)
    if view is None:
        response = wechat_error(Err.INVALID_PARAMETER.errcode, Err.INVALID_PARAMETER.value.errmsg)
    else:
        redirect_url = None
        if view.status == "confirmed" and confirmations.opened_by(view, request.cookies.get(OPENER_COOKIE)):
            redirect_url = (view.result or {}).get("redirect_url")
        response = ok({"status": view.status, "redirect_url": redirect_url})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/cgi-bin/scanqr", include_in_schema=False)
async def scanqr(request: Request, id: str = Query("")) -> Response:
    """The QR code of a fastregisterauth or componentloginpage page (its ``img#scan-qr``): a PNG of the
    confirmation URL; 404 for an id that is no such page's confirmation."""
    view = await get_runner(request).run(_page_confirmation, get_platform(request), id)
    if view is None:
        return Response("no such confirmation", status_code=404, media_type="text/plain; charset=utf-8")
    return Response(qr_png(view.url), media_type="image/png", headers={"Cache-Control": "no-store"})


def _page_confirmation(platform: Platform, confirmation_id: str) -> confirmations.ConfirmationView | None:
    """The confirmation of a fastregisterauth or componentloginpage page, or None."""
    try:
        view = confirmations.describe(platform, confirmation_id)
    except DomainError:
        return None
    return view if view.kind in _PAGE_KINDS else None


# ---------------------------------------------------------------- fast registration


ACCESS_TOKEN = Query(None, description="authorizer access token (or the account's own access token)")


@router.post(
    "/cgi-bin/account/fastregister",
    response_model=m.FastRegisterAnswer | m.WeChatError,
    responses=_responses(m.FastRegisterAnswer),
    summary="Register a Mini Program reusing the OA's qualification (by the admin's ticket)",
    # The token is read from the query string by hand: FastAPI's parameter solving costs more than this route's
    # whole unit of work on SQLite. The document still describes it.
    openapi_extra={**_body(m.FastRegisterRequest), "parameters": [_query_parameter("access_token", ACCESS_TOKEN)]},
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.UNAUTHORIZED_API, *FASTREGISTER_ERRORS, *SYSTEM],
        "`access_token` is the OA's authorizer access token held by the component the ticket was issued to. "
        "The token is checked first; the 61051–61061 checks run in the order of the table. A token of "
        "another OA or component gets 61058 and leaves the ticket usable by its rightful caller; a refused "
        "call changes nothing. The ticket is single-use. `is_wx_verify_succ` and `is_link_succ` are the "
        'strings `"true"`/`"false"`.',
    ),
)
async def account_fastregister(request: Request) -> WeChatJSONResponse:
    platform = get_platform(request)
    access_token = request.query_params.get("access_token")
    parsed = await _json_body(request, m.FastRegisterRequest)
    if parsed.error is not None:  # the token is checked before the body
        await get_runner(request).run(_authenticate, platform, access_token, list(ACCOUNT_TOKEN_KINDS))
    result = await get_runner(request).run(
        fastregister.fastregister_with_token, platform, access_token, parsed.value.ticket
    )
    return WeChatJSONResponse(
        {
            "errcode": 0,
            "errmsg": "",
            "appid": result.appid,
            "authorization_code": result.authorization_code,
            "is_wx_verify_succ": "true" if result.is_wx_verify_succ else "false",
            "is_link_succ": "true" if result.is_link_succ else "false",
        }
    )


_BASIC_INFO: dict[str, Any] = {
    "response_model": m.AccountBasicInfoAnswer | m.WeChatError,
    "responses": _responses(m.AccountBasicInfoAnswer),
    "summary": "Basic information of the token's account (Official Account or Mini Program)",
    "description": errcode_table(
        [*TOKEN_ERRORS, Err.UNAUTHORIZED_API, *SYSTEM],
        "GET (WxJava, silenceper, Senparc) or POST (the current documentation, EasyWeChat, PowerWeChat; any body "
        "is ignored), with an OA's or an MP's token. `realname_status` is 2 until the account is verified, "
        "`customer_type` 0 until it is certified; `annual_review*` appear only with `qualification_verify`.",
    ),
}


@router.get("/cgi-bin/account/getaccountbasicinfo", **_BASIC_INFO)
@router.post("/cgi-bin/account/getaccountbasicinfo", **_BASIC_INFO)
async def getaccountbasicinfo(request: Request, access_token: str | None = ACCESS_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    # A POST body carries nothing this call reads ({} from the SDKs), but a malformed one is refused all the same.
    parsed = await _json_body(request, m.LinkGetRequest, required=False) if request.method == "POST" else None
    caller = await get_runner(request).run(_authenticate, platform, access_token, list(ACCOUNT_TOKEN_KINDS))
    if parsed is not None:
        parsed.value  # noqa: B018 - raises the body's 47001/40097 after the token check, as every POST route
    return ok(await get_runner(request).run(basic_info.account_basic_info, platform, caller.appid))


# ---------------------------------------------------------------- links


LINK_ERRORS: list[Err | ErrorSpec] = [Err.INVALID_APPID, Err.LINK_EXISTS, Err.LINK_PENDING, Err.LINK_LIMIT]
UNLINK_ERRORS: list[Err | ErrorSpec] = [Err.INVALID_APPID, Err.INVALID_PARAMETER, Err.UNLINK_PENDING]
OA_TOKEN = Query(None, description="the Official Account's access token (its own or an authorizer token)")


def _oa_caller(platform: Platform, token: str | None, parsed: Parsed[Any]) -> tuple[Caller, Any]:
    with platform.uow(readonly=True) as uow:
        caller = tokens.authenticate(uow, token, ACCOUNT_TOKEN_KINDS)
        body = parsed.value
        if not authorization.is_official_account(uow, caller.appid):
            raise DomainError(Err.UNAUTHORIZED_API)
        return caller, body


def _func_infos(certified: bool) -> list[dict[str, Any]]:
    """微信认证 and 微信支付 (fastreg's MPs have no payment), as wxamplinkget lists them."""
    return [{"status": int(certified), "id": 1, "name": "微信认证"}, {"status": 0, "id": 2, "name": "微信支付"}]


def link_items(platform: Platform, oa_appid: str) -> list[dict[str, Any]]:
    """wxamplinkget's items, with WeChat's keys only (how each MP was linked is in the sandbox's OA view)."""
    items = []
    for view in links.list_links(platform, oa_appid):
        func_infos = _func_infos(view.certified)
        items.append(
            {
                "status": LINK_STATUS_CODES[LinkStatus(view.status)],
                "username": view.original_id,
                "appid": view.appid,
                "source": "SOURCE_NORMAL",
                "nickname": view.nickname,
                "selected": int(view.show_profile),
                "nearby_display_status": 0,
                "released": 0,
                "headimg_url": "",
                "func_infos": func_infos,
                "func_info": func_infos,
                "copy_verify_status": int(view.certified and view.linked_via == LinkedVia.FAST_REGISTER),
                "email": view.email,
            }
        )
    return items


@router.post(
    "/cgi-bin/wxopen/wxamplinkget",
    response_model=m.LinkGetAnswer | m.WeChatError,
    responses=_responses(m.LinkGetAnswer),
    summary="Mini Programs linked to the Official Account",
    openapi_extra=_body(m.LinkGetRequest, required=False),
    description=errcode_table(
        [*TOKEN_ERRORS, Err.DATA_FORMAT, BODY_TOO_LARGE, Err.UNAUTHORIZED_API, *SYSTEM],
        "`status`: 1 linked; 2 waiting for the MP admin; 3 refused by the MP admin; 12 waiting for the OA "
        "admin. `selected` is show_profile. `func_infos` is also sent as `func_info` (its old name, which "
        "WxJava reads). How each MP was linked is in the sandbox API's OA view (`linked_via`).",
    ),
)
async def wxamplinkget(request: Request, access_token: str | None = OA_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    parsed = await _json_body(request, m.LinkGetRequest, required=False)
    caller, _ = await get_runner(request).run(_oa_caller, platform, access_token, parsed)
    items = await get_runner(request).run(link_items, platform, caller.appid)
    return ok({"wxopens": {"items": items}})


@router.post(
    "/cgi-bin/wxopen/wxamplink",
    response_model=m.Answer | m.WeChatError,
    responses=_responses(m.Answer),
    summary="Link a Mini Program (the OA admin, then the MP admin confirm)",
    openapi_extra=_body(m.LinkRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.UNAUTHORIZED_API, *LINK_ERRORS, *SYSTEM],
        "Starts an ordinary link: status 12 until the OA admin confirms, then 2 until the MP admin confirms, "
        "then 1. Counts toward 13 new links per calendar month (Asia/Shanghai); 89009 when they are used up. "
        '`notify_users` and `show_profile` are 0/1, "0"/"1", "" (false) or true/false. 89015 when the MP is '
        "already linked, 89010 while a link request waits for an admin; 40013 for an unknown Mini Program.",
    ),
)
async def wxamplink(request: Request, access_token: str | None = OA_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    parsed = await _json_body(request, m.LinkRequest)
    caller, body = await get_runner(request).run(_oa_caller, platform, access_token, parsed)
    await get_runner(request).run(
        links.request_link, platform, caller.appid, body.appid, body.notify_users, body.show_profile
    )
    return ok()


@router.post(
    "/cgi-bin/wxopen/wxampunlink",
    response_model=m.Answer | m.WeChatError,
    responses=_responses(m.Answer),
    summary="Unlink a Mini Program (the OA admin agrees)",
    openapi_extra=_body(m.UnlinkRequest),
    description=errcode_table(
        [*TOKEN_ERRORS, *BODY_ERRORS, Err.UNAUTHORIZED_API, *UNLINK_ERRORS, *SYSTEM],
        "Asks the OA admin to agree (an `unlink_oa_admin` confirmation): the link stays (status 1) until they "
        "do, and stays if they refuse. 89018 while a request waits for the admin; 40097 when the MP is not "
        "linked to this OA; 40013 for an unknown Mini Program. A fast-registered MP keeps existing after "
        "unlinking.",
    ),
)
async def wxampunlink(request: Request, access_token: str | None = OA_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    parsed = await _json_body(request, m.UnlinkRequest)
    caller, body = await get_runner(request).run(_oa_caller, platform, access_token, parsed)
    await get_runner(request).run(links.request_unlink, platform, caller.appid, body.appid)
    return ok()


# ---------------------------------------------------------------- 代认证 (permission set 18)


MP_TOKEN = Query(None, description="the Mini Program's authorizer access token (or its own access token)")
VERIFICATION_ERRORS: list[Err | ErrorSpec] = [*TOKEN_ERRORS, *BODY_ERRORS, Err.UNAUTHORIZED_API, *SYSTEM]


@router.post(
    "/wxa/sec/wxaauth",
    response_model=m.WxaAuthAnswer | m.WeChatError,
    responses=_responses(m.WxaAuthAnswer),
    summary="小程序认证: certify a Mini Program on its behalf (代认证)",
    openapi_extra=_body(m.WxaAuthRequest),
    description=errcode_table(
        VERIFICATION_ERRORS,
        "For a Mini Program's token; a component's needs permission set 18 (48001 otherwise). Answers the task "
        "id and `auth_url`, which the MP admin opens (a phone confirmation, valid 24 h). 40097 while another "
        "task of the MP waits for its admin or is under review (WeChat's own code for that is not documented).",
    ),
)
async def wxaauth(request: Request, access_token: str | None = MP_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    parsed = await _json_body(request, m.WxaAuthRequest)
    if parsed.error is not None:  # the token is checked before the body
        await get_runner(request).run(_authenticate, platform, access_token, list(ACCOUNT_TOKEN_KINDS))
    auth_data = parsed.value.auth_data.model_dump(mode="json", exclude_none=True)
    taskid, auth_url = await get_runner(request).run(verification.submit, platform, access_token, auth_data)
    return ok({"taskid": taskid, "auth_url": auth_url})


@router.post(
    "/wxa/sec/queryauth",
    response_model=m.QueryWxaAuthAnswer | m.WeChatError,
    responses=_responses(m.QueryWxaAuthAnswer),
    summary="小程序认证进度查询: the state of a 代认证 task",
    openapi_extra=_body(m.QueryWxaAuthRequest),
    description=errcode_table(VERIFICATION_ERRORS, "40097 for a task id that is not this Mini Program's."),
)
async def queryauth(request: Request, access_token: str | None = MP_TOKEN) -> WeChatJSONResponse:
    platform = get_platform(request)
    parsed = await _json_body(request, m.QueryWxaAuthRequest)
    if parsed.error is not None:
        await get_runner(request).run(_authenticate, platform, access_token, list(ACCOUNT_TOKEN_KINDS))
    return ok(await get_runner(request).run(verification.query, platform, access_token, parsed.value.taskid))


# FastAPI tries the routes in order, twice per request (the application, then this router), and the registration
# call is the one that must be cheap: it is tried first. (The OpenAPI document lists it first too.)
router.routes.sort(key=lambda route: getattr(route, "path", None) != "/cgi-bin/account/fastregister")
