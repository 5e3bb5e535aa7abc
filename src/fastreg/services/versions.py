"""The platform version in force: ``FASTREG_PLATFORM_VERSION``, or in the sandbox the one set through
``PUT /sandbox/v1/platform-version``, kept in the database like the sandbox clock (so every worker agrees) and
wiped by a reset (back to the configured one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastreg.domain.versions import PlatformVersion, parse_version
from fastreg.services.ports import Context

STATE_KEY = "platform_version"


def configured(context: Context) -> PlatformVersion:
    return PlatformVersion(context.settings.platform_version)


def in_force(context: Context, stored: dict[str, Any] | None) -> PlatformVersion:
    """The version in force, given the sandbox setting stored under ``STATE_KEY`` (None when there is none):
    outside the sandbox the configured version holds whatever is stored."""
    if not context.settings.is_sandbox:
        return configured(context)
    return _stored(stored) or configured(context)


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


def current(context: Context) -> VersionView:
    if not context.settings.is_sandbox:  # nothing to read
        return VersionView(configured(context), configured(context))
    with context.uow(readonly=True) as uow:
        stored = uow.sandbox_state.value(STATE_KEY)
    return VersionView(in_force(context, stored), configured(context))


def set_version(context: Context, value: str) -> VersionView:
    """Pin this sandbox to ``value`` (a ``ValueError`` naming the accepted versions when it is unknown)."""
    version = parse_version(value)
    with context.uow() as uow:
        uow.sandbox_state.set_value(STATE_KEY, {"version": version.value})
        uow.commit()
    return current(context)
