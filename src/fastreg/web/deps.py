"""Shared FastAPI dependencies of the web adapters."""

from __future__ import annotations

from fastapi import Request

from fastreg.platform import Platform


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform
