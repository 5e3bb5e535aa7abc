"""The platform version in force: ``FASTREG_PLATFORM_VERSION``, or in the sandbox the one set through
``PUT /sandbox/v1/platform-version``, kept in the database like the sandbox clock (so every worker agrees) and
wiped by a reset (back to the configured one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import SandboxState
from fastreg.adapters.db.prepared import PreparedConnection, Rows
from fastreg.domain.versions import PlatformVersion, parse_version
from fastreg.platform import Platform

STATE_KEY = "platform_version"


def configured(platform: Platform) -> PlatformVersion:
    return PlatformVersion(platform.settings.platform_version)


class VersionQuery:
    """The version in force for a transaction, in two halves: the sandbox setting's read is sent when this is
    made (inside a batch: along with the caller's other reads), the version is read when asked for. Outside
    the sandbox the configured version holds and nothing is read."""

    def __init__(self, conn: PreparedConnection, platform: Platform) -> None:
        self._default = configured(platform)
        self._rows: Rows | None = None
        if platform.settings.is_sandbox:
            self._rows = conn.execute(sql.SANDBOX_STATE, {"key": STATE_KEY})

    def get(self) -> PlatformVersion:
        row = self._rows.first() if self._rows is not None else None
        return _stored(row.value if row else None) or self._default


def _stored(value: dict[str, Any] | None) -> PlatformVersion | None:
    try:
        return PlatformVersion(str((value or {})["version"]))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class VersionView:
    version: PlatformVersion
    default: PlatformVersion

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version.value, "default": self.default.value}


def current(platform: Platform) -> VersionView:
    with platform.uow(readonly=True) as uow:
        return VersionView(VersionQuery(uow.conn, platform).get(), configured(platform))


def set_version(platform: Platform, value: str) -> VersionView:
    """Pin this sandbox to ``value`` (a ``ValueError`` naming the accepted versions when it is unknown)."""
    version = parse_version(value)
    with platform.uow() as uow:
        state = uow.session.get(SandboxState, STATE_KEY)
        if state is None:
            uow.session.add(SandboxState(key=STATE_KEY, value={"version": version.value}))
        else:
            state.value = {"version": version.value}
        uow.commit()
    return current(platform)
