"""Request and response models of the WeChat-compatible API (field names exactly as WeChat's)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Answer(BaseModel):
    errcode: int = Field(0, description="0 on success")
    errmsg: str = Field("ok", description='"ok" on success')


class WeChatError(BaseModel):
    """Every refusal: HTTP 200 with a non-zero errcode (a crash is HTTP 500 with errcode -1)."""

    errcode: int = Field(..., description="non-zero error code", examples=[40001])
    errmsg: str = Field(..., description="WeChat's message for the code", examples=["invalid credential"])


# ---------------------------------------------------------------- tokens


class AccessTokenAnswer(Answer):
    access_token: str
    expires_in: int = Field(7200, examples=[7200])


class ComponentTokenRequest(Request):
    component_appid: str
    component_appsecret: str
    component_verify_ticket: str


class StartPushTicketRequest(Request):
    component_appid: str
    component_secret: str


class ComponentTokenAnswer(Answer):
    component_access_token: str
    expires_in: int = Field(7200, examples=[7200])


class PreAuthCodeRequest(Request):
    component_appid: str


class PreAuthCodeAnswer(Answer):
    pre_auth_code: str
    expires_in: int = Field(1800, examples=[1800])


class FuncScope(BaseModel):
    id: int


class FuncInfo(BaseModel):
    funcscope_category: FuncScope


class QueryAuthRequest(Request):
    component_appid: str
    authorization_code: str


class AuthorizationInfo(BaseModel):
    authorizer_appid: str
    authorizer_access_token: str
    expires_in: int
    authorizer_refresh_token: str
    func_info: list[FuncInfo]


class QueryAuthAnswer(Answer):
    authorization_info: AuthorizationInfo


class AuthorizerTokenRequest(Request):
    component_appid: str
    authorizer_appid: str
    authorizer_refresh_token: str


class AuthorizerTokenAnswer(Answer):
    authorizer_access_token: str
    expires_in: int
    authorizer_refresh_token: str


class AuthorizerInfoRequest(Request):
    component_appid: str
    authorizer_appid: str


class TypeInfo(BaseModel):
    id: int


class BasicConfig(BaseModel):
    is_phone_configured: bool
    is_email_configured: bool


class AuthorizerProfile(BaseModel):
    model_config = ConfigDict(extra="allow")

    nick_name: str
    head_img: str
    service_type_info: TypeInfo = Field(..., description="2: 服务号 (an OA); 0: an ordinary Mini Program")
    verify_type_info: TypeInfo = Field(..., description="0: verified (微信认证); -1: not verified")
    user_name: str
    principal_name: str
    signature: str
    MiniProgramInfo: dict[str, Any] | None = Field(None, description="only for a Mini Program")
    register_type: int = Field(..., description="0: the ordinary way; 2: by account/fastregister")
    account_status: int = Field(1, description="1: normal")
    basic_config: BasicConfig


class AuthorizerAuthorization(BaseModel):
    authorizer_appid: str
    authorizer_refresh_token: str
    func_info: list[FuncInfo]


class AuthorizerInfoAnswer(Answer):
    authorizer_info: AuthorizerProfile
    authorization_info: AuthorizerAuthorization


class AuthorizerListRequest(Request):
    component_appid: str
    offset: int = Field(0, ge=0)
    count: int = Field(..., ge=1, description="at most 500 (40170 above)")


class AuthorizerListItem(BaseModel):
    authorizer_appid: str
    refresh_token: str
    auth_time: int = Field(..., description="when the account (last) authorized the component, Unix seconds")


class AuthorizerListAnswer(Answer):
    total_count: int
    list: list[AuthorizerListItem]


class ScanStatusAnswer(Answer):
    status: Literal["pending", "confirmed", "cancelled", "expired"]
    redirect_url: str | None = Field(None, description="where the page sends the browser once confirmed")


# ---------------------------------------------------------------- fast registration


class FastRegisterRequest(Request):
    ticket: str = Field(..., description="the ticket appended to redirect_uri after the OA admin confirmed")


class FastRegisterAnswer(BaseModel):
    errcode: int = 0
    errmsg: str = ""
    appid: str = Field(..., description="the new Mini Program")
    authorization_code: str = Field(..., description="for api_query_auth: the MP is authorized to the component")
    is_wx_verify_succ: Literal["true", "false"] = Field(..., description="the MP is certified (copy_wx_verify=1)")
    is_link_succ: Literal["true", "false"] = Field(..., description="the MP is linked to the OA")


class WxVerifyInfo(BaseModel):
    qualification_verify: bool
    naming_verify: bool
    annual_review: bool = False


class AccountBasicInfoAnswer(Answer):
    appid: str
    account_type: int = Field(3, description="3: Mini Program")
    principal_type: int = Field(..., description="1 enterprise, 2 media, 3 government, 4 other org, 5 individual biz")
    principal_name: str
    realname_status: int = 1
    nickname: str = ""
    wx_verify_info: WxVerifyInfo
    credential: str = ""
    customer_type: int = 1


# ---------------------------------------------------------------- links


class LinkGetRequest(Request):
    pass


class LinkItem(BaseModel):
    status: int = Field(
        ..., description="1 linked; 2 waiting for the MP admin; 3 refused by the MP admin; 12 waiting for the OA admin"
    )
    username: str
    appid: str
    nickname: str
    selected: int = Field(..., description="1: shown on the OA's profile (show_profile)")
    nearby_display_status: int = 0
    released: int = 0
    headimg_url: str = ""
    func_info: list[FuncInfo] = []
    email: str = ""
    linked_via: Literal["fast_register", "link"]


class LinkItems(BaseModel):
    items: list[LinkItem]


class LinkGetAnswer(Answer):
    wxopens: LinkItems


class LinkRequest(Request):
    appid: str
    notify_users: int = Field(0, ge=0, le=1)
    show_profile: int = Field(0, ge=0, le=1)


class UnlinkRequest(Request):
    appid: str
