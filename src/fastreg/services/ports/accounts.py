"""Ports of the accounts area: the repository protocols its services use."""

from __future__ import annotations

from typing import Protocol


class AccountRepository(Protocol):
    pass


class AuditLog(Protocol):
    pass


class SessionRepository(Protocol):
    pass


class WechatUserRepository(Protocol):
    pass
