"""Errors are values with codes: each knows its official errcode, its ``errmsg`` as WeChat's API writes it on
the wire (a short English text; the web layer appends `` rid: <request id>``) and the Chinese and English
messages the console and the HTML pages show."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class ErrorSpec:
    errcode: int
    errmsg: str  # WeChat's wire text, before the ` rid: …` suffix
    zh: str  # what the console shows in Chinese
    en: str


class Err(Enum):
    SYSTEM = ErrorSpec(-1, "system error", "系统繁忙，请稍后再试", "System error, please try again later")
    INVALID_CREDENTIAL = ErrorSpec(
        40001, "invalid credential, access_token is invalid or not latest", "access_token 无效", "Invalid access token"
    )
    TOKEN_EXPIRED = ErrorSpec(42001, "access_token expired", "access_token 已过期", "Access token expired")
    TOKEN_MISSING = ErrorSpec(41001, "access_token missing", "缺少 access_token", "Access token missing")
    INVALID_APPID = ErrorSpec(40013, "invalid appid", "无效的 appid", "Invalid appid")
    INVALID_APPSECRET = ErrorSpec(40125, "invalid appsecret", "无效的 appsecret", "Invalid appsecret")
    INVALID_CODE = ErrorSpec(40029, "invalid code", "无效的授权码", "Invalid code")
    INVALID_GRANT_TYPE = ErrorSpec(40002, "invalid grant_type", "无效的 grant_type", "Invalid grant_type")
    INVALID_PARAMETER = ErrorSpec(40097, "invalid args", "参数错误", "Invalid arguments")
    INVALID_VERIFY_TICKET = ErrorSpec(
        61006, "component ticket is invalid", "component_verify_ticket 无效", "Invalid component verify ticket"
    )
    COMPONENT_TICKET_EXPIRED = ErrorSpec(
        61005,
        "component ticket is expired",
        "component_verify_ticket 已过期",
        "The component verify ticket has expired",
    )
    INVALID_AUTH_CODE = ErrorSpec(61009, "code is invalid", "授权码无效", "Invalid authorization code")
    AUTH_CODE_EXPIRED = ErrorSpec(61010, "code is expired", "授权码已过期", "The authorization code has expired")
    COUNT_LIMIT = ErrorSpec(40170, "args count exceed count limit", "个数超出限制", "Count over the limit")
    INVALID_REFRESH_TOKEN = ErrorSpec(61023, "refresh_token is invalid", "refresh_token 无效", "Invalid refresh token")
    DATA_FORMAT = ErrorSpec(47001, "data format error", "数据格式错误", "Data format error")
    EMPTY_POST = ErrorSpec(44002, "empty post data", "请求体为空", "Empty post data")
    UNAUTHORIZED_API = ErrorSpec(48001, "api unauthorized", "没有调用该接口的权限", "API unauthorized")

    PERSONAL_PRINCIPAL = ErrorSpec(
        61051,
        "invalid realname type",
        "个人主体的公众号不支持快速注册小程序",
        "Official Accounts of individuals cannot fast-register Mini Programs",
    )
    NOT_VERIFIED = ErrorSpec(61052, "need to be certified", "公众号未认证", "The Official Account is not verified")
    PRINCIPAL_LIMIT = ErrorSpec(
        61053,
        "realname exceed limits",
        "该主体可注册的小程序数量已达上限",
        "The principal has reached its maximum number of Mini Programs",
    )
    BLACKLISTED = ErrorSpec(61054, "realname in black list", "该主体已被列入黑名单", "The principal is blacklisted")
    QUOTA_EXCEEDED = ErrorSpec(
        61055,
        "exceed quota per month",
        "本月已复用资质创建{limit}个小程序,不可新增。",
        "This month's quota of {limit} fast-registered Mini Programs is used up.",
    )
    CERTIFICATION_REQUIRED = ErrorSpec(
        61056,
        "copy_wx_verify is required option",
        "政府、媒体、其他组织类型的公众号必须复用认证资质",
        "Government, media and other organisations must reuse certification",
    )
    PENDING_EXISTS = ErrorSpec(
        61057,
        "fast register is in progress",
        "公众号仍有快速创建的账号在流程中",
        "The Official Account still has a fast registration in progress",
    )
    SCAN_INVALID = ErrorSpec(
        61058,
        "invalid ticket",
        "管理员扫码验证未通过，请重新扫码",
        "The admin's scan confirmation is missing or invalid",
    )
    COMPONENT_UNPUBLISHED = ErrorSpec(
        61028, "component is unpublished", "第三方平台未发布", "The component is not published"
    )
    COMPONENT_PERMISSIONS = ErrorSpec(
        61029,
        "component need republish with base category",
        "第三方平台缺少必备权限集",
        "The component lacks a required permission set",
    )
    INVALID_REDIRECT = ErrorSpec(61060, "invalid redirect uri", "跳转 uri 不合法", "Invalid redirect uri")
    OVERSEAS = ErrorSpec(
        61061, "overseas access deny", "海外帐号不允许快速创建小程序", "Overseas accounts cannot fast-register"
    )

    # Links (wxamplink / wxampunlink), with WeChat's codes and meanings.
    LINK_LIMIT = ErrorSpec(
        89009,
        "wxa reach link limit",
        "本月新增关联小程序已达{limit}个上限",
        "This month's limit of {limit} new links is reached",
    )
    LINK_EXISTS = ErrorSpec(89015, "has linked wxa", "已关联该小程序", "The Mini Program is already linked")
    LINK_PENDING = ErrorSpec(
        89010, "link message has sent", "关联请求已发出，等待管理员确认", "A link request is waiting for the admins"
    )
    UNLINK_PENDING = ErrorSpec(
        89018,
        "unlink message has sent",
        "解除关联请求已发出，等待公众号管理员确认",
        "An unlink request is waiting for the Official Account's admin",
    )
    # WeChat documents no code for an unknown Mini Program or one not linked: INVALID_APPID and INVALID_PARAMETER.

    # Console-only conditions (no official API errcode; the codes are fastreg's own, in a private range).
    EMAIL_INVALID = ErrorSpec(91001, "invalid email", "邮箱格式不正确", "The email address is not valid")
    EMAIL_TAKEN = ErrorSpec(
        91002, "email already used", "该邮箱已被占用，请使用其他邮箱", "This email is already used on the platform"
    )
    EMAIL_PERSONAL_WECHAT = ErrorSpec(
        91003,
        "email bound to personal wechat",
        "该邮箱已绑定个人微信号，请使用其他邮箱",
        "This email is bound to a personal WeChat account",
    )
    PASSWORD_WEAK = ErrorSpec(
        91004,
        "weak password",
        "密码至少8位，且须同时包含字母和数字",
        "The password needs at least 8 characters with letters and digits",
    )
    PASSWORD_MISMATCH = ErrorSpec(91005, "password mismatch", "两次输入的密码不一致", "The passwords do not match")
    ACTIVATION_INVALID = ErrorSpec(
        91006, "activation link invalid", "激活链接无效或已被使用", "The activation link is invalid or already used"
    )
    ACTIVATION_EXPIRED = ErrorSpec(
        91007, "activation link expired", "激活链接已过期，请重新发送激活邮件", "The activation link has expired"
    )
    RESEND_TOO_SOON = ErrorSpec(
        91008, "resend too soon", "发送过于频繁，请一分钟后再试", "Please wait a minute before resending"
    )
    WRONG_STATE = ErrorSpec(
        91009, "registration state invalid", "当前注册流程不在此步骤", "The registration is not at this step"
    )
    NOT_ALLOWED = ErrorSpec(
        91010, "not allowed", "你不是该帐号的管理员，无权确认", "You are not allowed to answer this confirmation"
    )
    CONFIRMATION_CLOSED = ErrorSpec(
        91011, "confirmation closed", "二维码已过期或已处理，请刷新", "This confirmation has expired or was answered"
    )
    LOGIN_FAILED = ErrorSpec(91012, "login failed", "邮箱或密码错误", "Wrong email or password")
    LOGIN_LOCKED = ErrorSpec(
        91013, "login locked", "登录失败次数过多，请15分钟后再试", "Too many failed logins, try again in 15 minutes"
    )
    NOT_ACTIVATED = ErrorSpec(
        91014, "account not activated", "帐号尚未激活，请先通过邮件中的链接激活", "The account is not activated yet"
    )
    WXID_INVALID = ErrorSpec(91015, "invalid wxid", "请填写正确的微信号", "Please enter a valid WeChat id")
    NOT_FOUND = ErrorSpec(91016, "not found", "未找到", "Not found")
    VERIFICATION_TASK_CLOSED = ErrorSpec(
        91030,
        "verification task closed",
        "该认证任务不在待处理状态",
        "The verification task is not waiting for this answer",
    )
    MP_NAME_INVALID = ErrorSpec(
        91040,
        "invalid mp name",
        "小程序名称不能超过{limit}个字符",
        "The Mini Program name can have at most {limit} characters",
    )

    @property
    def errcode(self) -> int:
        return self.value.errcode


class DomainError(Exception):
    """A refused action. ``field`` names the form field a console shows it next to."""

    def __init__(self, err: Err, *, field: str | None = None, **params: object) -> None:
        self.err = err
        self.field = field
        self.params = params
        super().__init__(f"{err.value.errcode} {err.value.errmsg}")

    @property
    def errcode(self) -> int:
        return self.err.value.errcode

    @property
    def errmsg(self) -> str:
        return self.err.value.errmsg

    def message(self, lang: str = "zh") -> str:
        text = self.err.value.en if lang == "en" else self.err.value.zh
        return text.format(**self.params) if self.params else text
