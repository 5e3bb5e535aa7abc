"""Request and response models of the WeChat-compatible API (field names exactly as WeChat's)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError


class Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Answer(BaseModel):
    errcode: int = Field(0, description="0 on success")
    errmsg: str = Field("ok", description='"ok" on success')


class WeChatError(BaseModel):
    """Every refusal: HTTP 200 with a non-zero errcode (a crash is HTTP 500 with errcode -1)."""

    errcode: int = Field(..., description="non-zero error code", examples=[61058])
    errmsg: str = Field(
        ...,
        description="WeChat's English text for the code, then ` rid: ` and the request id (the X-Request-Id header)",
        examples=["invalid ticket rid: 6746c1a2-2f3b0c1e-5d8f1a22"],
    )


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
    annual_review: bool | None = Field(None, description="only with qualification_verify: the 年审 is open")
    annual_review_begin_time: int | None = Field(None, description="only with qualification_verify: Unix time")
    annual_review_end_time: int | None = Field(None, description="only with qualification_verify: Unix time")


class SignatureInfo(BaseModel):
    signature: str
    modify_used_count: int
    modify_quota: int


class HeadImageInfo(BaseModel):
    head_image_url: str
    modify_used_count: int
    modify_quota: int


class NicknameInfo(BaseModel):
    nickname: str
    modify_used_count: int
    modify_quota: int


class AccountBasicInfoAnswer(Answer):
    appid: str
    account_type: int = Field(..., description="1 subscription account, 2 service account, 3 Mini Program")
    principal_type: int = Field(..., description="1 enterprise, 2 media, 3 government, 4 other org, 5 individual biz")
    principal_name: str
    credential: str = ""
    realname_status: int = Field(..., description="1 verified; 2 until the qualification is verified")
    wx_verify_info: WxVerifyInfo
    signature_info: SignatureInfo
    head_image_info: HeadImageInfo
    nickname_info: NicknameInfo
    registered_country: int = Field(1017, description="1017: China")
    nickname: str = ""
    customer_type: int = Field(..., description="认证类型: 0 until certified; 1 enterprise, 12 individual business")


# ---------------------------------------------------------------- links


class LinkGetRequest(Request):
    pass


class LinkFuncInfo(BaseModel):
    status: int = Field(..., description="0 not opened, 1 opened")
    id: int = Field(..., description="1 微信认证 (certification), 2 微信支付 (payment)")
    name: str


class LinkItem(BaseModel):
    status: int = Field(
        ..., description="1 linked; 2 waiting for the MP admin; 3 refused by the MP admin; 12 waiting for the OA admin"
    )
    username: str = Field(..., description="the MP's original id (gh_…)")
    appid: str
    source: str = Field("SOURCE_NORMAL", examples=["SOURCE_NORMAL"])
    nickname: str
    selected: int = Field(..., description="1: shown on the OA's profile (show_profile)")
    nearby_display_status: int = 0
    released: int = 0
    headimg_url: str = ""
    func_infos: list[LinkFuncInfo]
    func_info: list[LinkFuncInfo] = Field(..., description="the same list under its old name (WxJava reads it)")
    copy_verify_status: int = Field(..., description="1: the MP reuses this OA's certification")
    email: str = ""


class LinkItems(BaseModel):
    items: list[LinkItem]


class LinkGetAnswer(Answer):
    wxopens: LinkItems


def _flag(value: object) -> bool:
    """A 0/1 switch as the SDKs send it: 0/1, "0"/"1", "" (EasyWeChat 5's false) or true/false. Another number
    is out of range (40097); anything else is of the wrong type (47001), as for any integer field."""
    if isinstance(value, bool):
        return value
    text = value.strip() if isinstance(value, str) else value
    if text in ("", "0", "1") or (isinstance(value, int) and value in (0, 1)):
        return str(text) == "1"
    if isinstance(value, int) or (isinstance(text, str) and text.lstrip("-").isdigit()):
        raise ValueError("0 or 1")
    raise PydanticCustomError("int_type", "0 or 1")


Flag = Annotated[bool, BeforeValidator(_flag), WithJsonSchema({"enum": [0, 1, "0", "1", "", True, False]})]


class LinkRequest(Request):
    appid: str
    notify_users: Flag = Field(False, description='send followers a template message: 0/1, "0"/"1", "", true/false')
    show_profile: Flag = Field(False, description='show the MP on the OA\'s profile: 0/1, "0"/"1", "", true/false')


class UnlinkRequest(Request):
    appid: str


# ---------------------------------------------------------------- 代认证 (wxa/sec/wxaauth, wxa/sec/queryauth)


class WxaAuthContact(Request):
    name: str = Field(..., min_length=1, description="认证联系人姓名")
    email: str = Field(..., min_length=3, description="认证联系人邮箱")


class WxaAuthData(Request):
    model_config = ConfigDict(extra="allow")  # kept as sent (qualification, account_name, pay_type, ...)

    customer_type: int = Field(..., ge=0, description="企业 1, 个体工商户 12, 个人 15 (as getaccountbasicinfo)")
    contact_info: WxaAuthContact
    invoice_info: dict[str, Any] | None = Field(None, description="发票信息 (not needed when the provider pays)")
    account_name: str | None = None
    account_name_type: int | None = None
    pay_type: int | None = None


class WxaAuthRequest(Request):
    auth_data: WxaAuthData


class WxaAuthAnswer(Answer):
    taskid: str = Field(..., description="for queryauth")
    auth_url: str = Field(..., description="the MP admin opens it and authorizes the application (24 h)")


class QueryWxaAuthRequest(Request):
    taskid: str = Field(..., min_length=1)


class QueryWxaAuthAnswer(Answer):
    task_status: int = Field(..., description="0 waiting for the admin; 1 timed out; 2 refused; 12 order created")
    apply_status: int = Field(..., description="0 none; 2 under review; 4 approved; 5 failed (final)")
    appid: str
    auth_url: str | None = Field(None, description="while task_status is 0")
    orderid: int | None = Field(None, description="once the review order exists")
    fail_reason: str | None = Field(None, description="when apply_status is 5")
