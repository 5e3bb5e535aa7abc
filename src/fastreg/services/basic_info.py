"""``account/getaccountbasicinfo``: the basic information of the account a token acts for, an Official Account
or a Mini Program, in the shape WeChat answers (the SDKs' structs: WxJava ``WxFastMaAccountBasicInfoResult``,
silenceper's ``GetAccountBasicInfoResp``, PowerWeChat's ``MpAccountBasicInfo``)."""

from __future__ import annotations

from typing import Any

from fastreg.domain.entities import MiniProgram, OfficialAccount
from fastreg.domain.errors import DomainError, Err
from fastreg.domain.model import PRINCIPAL_TYPE_CODES, PrincipalType
from fastreg.domain.rules import verification_report
from fastreg.services.ports import Context

# account_type: 1 subscription account, 2 service account, 3 Mini Program. fastreg's OAs are service accounts.
SERVICE_ACCOUNT, MINI_PROGRAM = 2, 3
# registered_country: 1017 is China.
CHINA = 1017
# Monthly quotas of the profile changes WeChat counts (功能介绍, 头像, 名称).
SIGNATURE_QUOTA, HEAD_IMAGE_QUOTA, NICKNAME_QUOTA = 5, 5, 2


def account_basic_info(context: Context, appid: str) -> dict[str, Any]:
    """The answer for the token's account; 48001 when it is neither an OA nor an MP."""
    with context.uow(readonly=True) as uow:
        now = uow.clock.now()
        account: OfficialAccount | MiniProgram | None = uow.accounts.find_official_account(appid)
        if account is None:
            account = uow.accounts.find_mini_program(appid)
        if account is None:
            raise DomainError(Err.UNAUTHORIZED_API)
        principal = uow.accounts.principal(account.principal_id)
        if isinstance(account, OfficialAccount):
            account_type, verified, expires_at = SERVICE_ACCOUNT, account.verified, account.verify_expires_at
        else:
            account_type, verified, expires_at = MINI_PROGRAM, account.certified, account.certified_until
        report = verification_report(verified=verified, expires_at=expires_at, now=now, principal_type=principal.type)
        nickname = account.name or ""
        return {
            "appid": account.appid,
            "account_type": account_type,
            "principal_type": PRINCIPAL_TYPE_CODES.get(PrincipalType(principal.type), 1),
            "principal_name": principal.name,
            "credential": "",
            "realname_status": report.realname_status,
            "wx_verify_info": report.wx_verify_info,
            "signature_info": {"signature": "", "modify_used_count": 0, "modify_quota": SIGNATURE_QUOTA},
            "head_image_info": {"head_image_url": "", "modify_used_count": 0, "modify_quota": HEAD_IMAGE_QUOTA},
            "nickname_info": {"nickname": nickname, "modify_used_count": 0, "modify_quota": NICKNAME_QUOTA},
            "registered_country": CHINA,
            "nickname": nickname,
            "customer_type": report.customer_type,
        }
