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


# As dependencies, async: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request
# for reading an attribute.
async def platform_dependency(request: Request) -> Platform:
    return get_platform(request)


async def runner_dependency(request: Request) -> Runner:
    return get_runner(request)


PlatformDep = Annotated[Platform, Depends(platform_dependency)]
RunnerDep = Annotated[Runner, Depends(runner_dependency)]


def secure_cookies(platform: Platform) -> bool:
    """Cookies get ``Secure`` whenever the public URL is https (always in production behind TLS)."""
    return platform.settings.public_url.lower().startswith("https://")
