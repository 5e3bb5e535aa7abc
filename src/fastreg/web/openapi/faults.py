"""The fault layer around every ``/cgi-bin`` route (sandbox mode only): before a call does anything, the faults
armed for its path are read (``services.faults``; ``Runner.unless_faults_armed`` reads them with the call's first
round trip where it can, and lets the call go on when none is armed); the oldest one that concerns the call takes
one of its times and decides what the call gets (``domain.faults``): an errcode instead of the answer, a delay, or
the answer withheld after the call committed (``after_commit``: "timeout" answers late, "drop" closes the
connection without answering, see ``web.middleware.DropConnection``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from fastapi import Request, Response

from fastreg.domain.faults import Fault
from fastreg.platform import Platform
from fastreg.runner import FaultsArmed
from fastreg.services import faults
from fastreg.web.deps import get_platform, get_runner
from fastreg.web.middleware import DropConnection
from fastreg.web.openapi.errors import wechat_error

log = logging.getLogger("fastreg.faults")

# Where a request names the accounts it concerns (query string or JSON body), and the tokens that speak for one.
APPID_FIELDS = ("appid", "component_appid", "authorizer_appid", "biz_appid")
TOKEN_FIELDS = ("access_token", "component_access_token")

Call = Callable[[], Awaitable[Response]]


async def run_with_faults(request: Request, call: Call) -> Response:
    platform = get_platform(request)
    if not platform.settings.is_sandbox:
        return await call()
    path: str = request.scope["path"]  # not request.url: building it costs more than the faults read
    runner = get_runner(request)
    try:
        return await runner.unless_faults_armed(path, call)
    except FaultsArmed:
        pass  # nothing was done: the armed fault decides below
    armed = faults.armed(await runner.injected_faults(), path)
    if not armed:
        return await call()
    fault = await _claim(request, platform, armed)
    if fault is None:
        return await call()
    log.info("fault %s injected on %s: %s", fault.id, path, fault.as_json())
    return await _inject(fault, call)


async def _claim(request: Request, platform: Platform, armed: list[Fault]) -> Fault | None:
    appids = await request_appids(request, platform) if any(f.appid for f in armed) else frozenset()
    for fault in armed:
        if fault.concerns(appids):
            taken = await get_runner(request).run(faults.consume, platform, fault.id)
            if taken is not None:
                return taken
    return None


async def request_appids(request: Request, platform: Platform) -> frozenset[str]:
    """The appids a call concerns: the ones it names, and the account (or component) behind its token."""
    named: list[object] = [request.query_params.get(field) for field in APPID_FIELDS]
    body = await request.body()  # kept on the request: the route reads it again
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        named += [data.get(field) for field in APPID_FIELDS]
    for field in TOKEN_FIELDS:
        raw = request.query_params.get(field)
        if raw:
            named.append(await get_runner(request).run(faults.token_subject, platform, raw))
    return frozenset(value for value in named if isinstance(value, str) and value)


async def _inject(fault: Fault, call: Call) -> Response:
    if not fault.runs_the_call:
        await asyncio.sleep(fault.delay_seconds)
        status, spec = fault.answer()
        refusal = wechat_error(spec.errcode, spec.errmsg)
        refusal.status_code = status
        return refusal
    if fault.after_commit is None:
        await asyncio.sleep(fault.delay_seconds)  # a slow way in: the call runs late
        return await call()
    response = await call()  # run and committed
    await asyncio.sleep(fault.delay_seconds)
    if fault.after_commit == "drop":
        raise DropConnection
    return response
