"""Authorizations of accounts (OA or MP) to components, and the authorization codes that hand them over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fastreg.adapters import crypto
from fastreg.adapters.db.models import Authorization
from fastreg.services import credentials
from fastreg.services.credentials import CredentialKind


def grant_authorization(
    session: Session, now: datetime, component_id: int, authorizer_appid: str, func_info: list[int], ttl_seconds: int
) -> str:
    """Record (or refresh) the authorization and return a fresh authorization code for api_query_auth."""
    authorization = session.execute(
        select(Authorization).where(
            Authorization.component_id == component_id, Authorization.authorizer_appid == authorizer_appid
        )
    ).scalar_one_or_none()
    if authorization is None:
        session.add(
            Authorization(
                component_id=component_id,
                authorizer_appid=authorizer_appid,
                # A placeholder until api_query_auth issues the real refresh token.
                refresh_token_hash=crypto.token_hash(crypto.new_token()),
                func_info=func_info,
                created_at=now,
            )
        )
    else:
        authorization.func_info = func_info
    return credentials.issue(
        session, now, CredentialKind.AUTH_CODE, authorizer_appid, ttl_seconds, component_id=component_id
    )
