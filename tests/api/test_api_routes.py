"""How an Open API route is run (``web.openapi.errors.WeChatRoute``): an endpoint that takes the request alone
is called without FastAPI's parameter and dependency solving, unless something FastAPI would solve applies to
it all the same: a dependency of the router's inclusion."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request

from fastreg.web.openapi.errors import WeChatJSONResponse, WeChatRoute
from fastreg.web.openapi.routes import account_fastregister
from fastreg.web.openapi.routes import router as openapi_router


def app_with(router: APIRouter, **include: object) -> FastAPI:
    app = FastAPI()
    app.state.platform = SimpleNamespace(settings=SimpleNamespace(is_sandbox=False))  # no fault layer
    app.include_router(router, **include)  # type: ignore[arg-type]
    return app


def post(app: FastAPI, path: str) -> Any:
    async def call() -> Any:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://fastreg.test") as client:
            return (await client.post(path)).json()

    return asyncio.run(call())


def alone_router() -> APIRouter:
    router = APIRouter(route_class=WeChatRoute)

    @router.post("/cgi-bin/alone")
    async def alone(request: Request) -> WeChatJSONResponse:
        return WeChatJSONResponse({"errcode": 0, "errmsg": "", "seen": getattr(request.state, "seen", None)})

    return router


def test_the_fastregister_endpoint_is_called_without_fastapi_solving_anything() -> None:
    (route,) = [r for r in openapi_router.routes if getattr(r, "endpoint", None) is account_fastregister]
    assert isinstance(route, WeChatRoute)
    assert route._endpoint_alone() is account_fastregister


def test_an_endpoint_taking_the_request_alone_answers() -> None:
    assert post(app_with(alone_router()), "/cgi-bin/alone") == {"errcode": 0, "errmsg": "", "seen": None}


def test_a_dependency_of_the_routers_inclusion_still_runs_for_such_an_endpoint() -> None:
    async def mark(request: Request) -> None:
        request.state.seen = "the inclusion's dependency"

    app = app_with(alone_router(), dependencies=[Depends(mark)])
    assert post(app, "/cgi-bin/alone")["seen"] == "the inclusion's dependency"
