"""Shared FastAPI dependencies of the web adapters: the platform, and the runner every route runs use cases
through (``fastreg.runner``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fastreg.platform import Platform
from fastreg.runner import Runner


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


RunnerDep = Annotated[Runner, Depends(get_runner)]


def secure_cookies(platform: Platform) -> bool:
    """Cookies get ``Secure`` whenever the public URL is https (always in production behind TLS)."""
    return platform.settings.public_url.lower().startswith("https://")
