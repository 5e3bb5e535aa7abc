"""The FastAPI application factory: settings in, app out; no globals."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from fastreg.domain.clock import Clock
from fastreg.platform import Platform, build_platform
from fastreg.settings import Settings

log = logging.getLogger("fastreg.web")


def create_app(
    settings: Settings | None = None, *, platform: Platform | None = None, clock: Clock | None = None
) -> FastAPI:
    settings = settings or (platform.settings if platform else Settings())
    platform = platform or build_platform(settings, clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from fastreg.adapters.mail import start_mail
        from fastreg.services.pushes import start_worker

        stop_checkpointer = platform.start_checkpointer()
        stop_mail = start_mail(platform)
        push_worker = start_worker(platform)  # component pushes: verify tickets and authorization events
        # What start-up made (modules, routes, schemas: most of the heap) stays until shutdown: out of the cyclic
        # collector's way, so the collections that requests trigger walk only what requests make. And fewer of
        # them: at the default 700 allocations a young collection came several times per request and walked the
        # live state of every request in flight (3-5 % of the server's CPU per registration, measured in turns).
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        try:
            yield
        finally:
            await app.state.runner.close()
            await push_worker.stop()
            stop_mail()
            stop_checkpointer()

    app = FastAPI(
        title="fastreg",
        version="0.1.0",
        description="Fast registration of Mini Programs by reusing a verified Official Account's qualification: "
        "the WeChat-compatible Open Platform API, the sandbox control API and the web console.",
        lifespan=lifespan,
        # The routes' documentation: served in the sandbox, off in production unless FASTREG_ADMIN_ENDPOINTS;
        # Swagger UI comes from the package instead of a CDN (fastreg.web.docs).
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serves_admin_endpoints else None,
    )
    app.state.platform = platform
    from fastreg.runner import Runner

    app.state.runner = Runner(platform)  # where every route's use case runs
    _guard_inputs(app, settings)
    from fastreg.web.middleware import install as install_edge

    install_edge(app, platform)  # request id, access log, metrics, body-size limit, GET /metrics (if served)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Liveness: the process answers."""
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Readiness: the database takes a write (rolled back); 503 when it does not."""
        try:
            await app.state.runner.run(platform.probe_write)
        except Exception as exc:
            log.warning("not ready: the database cannot write (%s)", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": "cannot write"}, status_code=503)
        return JSONResponse({"status": "ready", "database": "ok"})

    from starlette.exceptions import HTTPException

    from fastreg.web import console
    from fastreg.web.console import errors as console_errors
    from fastreg.web.docs import install_docs
    from fastreg.web.openapi.routes import router as openapi_router
    from fastreg.web.sandbox.routes import router as sandbox_router

    if settings.serves_admin_endpoints:
        install_docs(app)
    app.include_router(openapi_router)
    # WeChat's errors for unknown /cgi-bin paths and methods; the console's pages for its own and unknown paths.
    app.add_exception_handler(HTTPException, console_errors.http_error)
    app.add_exception_handler(500, console_errors.server_error)
    if settings.is_sandbox:
        app.include_router(sandbox_router)
    console.install(app)
    return app


def _guard_inputs(app: FastAPI, settings: Settings) -> None:
    """Refuse unusable paths, query strings and console forms in the dialect of the surface they are for."""
    from fastreg.web.console.render import bad_input_page
    from fastreg.web.inputs import BadInput, InputGuard, Refusal
    from fastreg.web.openapi.errors import bad_input_answer
    from fastreg.web.sandbox.routes import bad_input_response

    dialects: list[tuple[str, Refusal]] = [("/cgi-bin/", bad_input_answer)]
    if settings.is_sandbox:
        dialects.append(("/sandbox/", bad_input_response))
    app.add_middleware(InputGuard, dialects=dialects, default=bad_input_page)
    app.add_exception_handler(BadInput, bad_input_page)  # console forms (form_of)
