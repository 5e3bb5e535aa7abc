"""The web console, by feature: ``auth`` (logins, sessions, the operator's CSRF-checked forms), ``oa`` (the OA
home, 小程序管理, links), ``wizard`` (the seven steps, email activation), ``phone`` (the phone confirmation pages),
``mp`` (the MP console), on ``render`` (templates, language, flash, the pages' common answers).
Server-rendered (Jinja2), Chinese by default."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from fastreg.web.console import auth, mp, oa, phone, render, wizard

router = APIRouter(include_in_schema=False)
for _module in (render, auth, oa, wizard, mp, phone):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """The console's routes, and the answer to its dependencies' refusals (the login page, the csrf page)."""
    app.include_router(router)
    app.add_exception_handler(auth.Stop, auth.stopped)
