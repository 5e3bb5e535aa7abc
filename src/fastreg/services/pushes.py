"""Component pushes: ``component_verify_ticket`` every 10 minutes (each ticket valid 12 hours), authorization
events (``authorized``, ``updateauthorized``) and 代认证 events (``notify_3rd_wxa_auth``,
``notify_3rd_wxa_wxverify``), POSTed to the component's callback URL
encrypted and signed exactly as WeChat does (``adapters.wechat_crypto``).

Pushes are queued in the ``push_jobs`` table in the same transaction as the change they announce, so none is
lost; a background worker (started with the app) delivers them, woken as soon as a push is committed in its
process (every ``settings.push_poll_seconds`` otherwise, for pushes queued elsewhere and retries). A job is
claimed by a conditional update, so any number of workers on any number of hosts deliver each push once; a failed
delivery is logged and retried with exponential backoff (1 s, 2 s, 4 s ... capped at 10 minutes) until the
callback answers 2xx. The callback is documented to answer ``success``: a 2xx with another body is delivered,
and logged.

Delivery scheduling uses the real clock (it is about the network); message contents (``CreateTime``) and the
10-minute ticket rhythm use the platform clock, so moving the sandbox clock also moves the ticket pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from fastreg.adapters import crypto, wechat_crypto
from fastreg.adapters.db.models import Component, PushJob
from fastreg.domain.clock import Clock, SystemClock, as_utc
from fastreg.platform import Platform
from fastreg.services import credentials
from fastreg.services.credentials import CredentialKind

log = logging.getLogger("fastreg.pushes")

VERIFY_TICKET = "component_verify_ticket"
AUTHORIZED = "authorized"
UPDATE_AUTHORIZED = "updateauthorized"
UNAUTHORIZED = "unauthorized"
WXA_AUTH = "notify_3rd_wxa_auth"
WXA_WXVERIFY = "notify_3rd_wxa_wxverify"

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0
LEASE_SECONDS = 60.0
DELIVERY_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.5
BATCH = 20
# What the callback is documented to answer; another 2xx body is logged, not retried.
SUCCESS = "success"
# WeChat: a component_verify_ticket is valid 12 hours; the latest one should be used, an older one still works.
VERIFY_TICKET_TTL_SECONDS = 12 * 3600

_real: Clock = SystemClock()

# A delivered job's next attempt: far in the future, so the due-jobs index scan never walks delivered ones.
DELIVERED = datetime(9999, 1, 1, tzinfo=UTC)


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed ones."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_CAP_SECONDS))


def _timestamp(now: datetime) -> int:
    return int(as_utc(now).timestamp())


# ---------------------------------------------------------------- queueing (in the caller's transaction)


def enqueue(session: Session, now: datetime, component: Component, info_type: str, fields: dict[str, Any]) -> bool:
    """Queue a push for the component's callback; False (nothing queued) when it has no callback URL."""
    if not component.callback_url:
        return False
    message = {"AppId": component.appid, "CreateTime": _timestamp(now), "InfoType": info_type, **fields}
    session.add(
        PushJob(
            component_id=component.id,
            info_type=info_type,
            payload={"message": message},
            attempts=0,
            next_attempt_at=_real.now(),
            delivered_at=None,
            last_error=None,
            created_at=now,
        )
    )
    _wake_worker_on_commit(session)
    return True


def _wake_worker_on_commit(session: Session) -> None:
    """Once the push is committed, this process's worker delivers it at once instead of at its next poll."""
    uow = session.info.get("unit_of_work")
    platform = getattr(uow, "platform", None)
    if uow is not None and platform is not None:
        uow.on_commit(platform.push_queued.notify)


def enqueue_verify_ticket(session: Session, now: datetime, component: Component) -> bool:
    if not component.verify_ticket:
        return False
    return enqueue(session, now, component, VERIFY_TICKET, {"ComponentVerifyTicket": component.verify_ticket})


def enqueue_authorization_event(
    session: Session,
    now: datetime,
    component: Component,
    info_type: str,
    authorizer_appid: str,
    authorization_code: str | None = None,
    code_ttl_seconds: int = 3600,
) -> bool:
    """``authorized`` / ``updateauthorized`` (with the authorization code) or ``unauthorized``."""
    fields: dict[str, Any] = {"AuthorizerAppid": authorizer_appid}
    if authorization_code:
        fields["AuthorizationCode"] = authorization_code
        fields["AuthorizationCodeExpiredTime"] = _timestamp(now) + code_ttl_seconds
        fields["PreAuthCode"] = ""
    return enqueue(session, now, component, info_type, fields)


def enqueue_wxa_auth_event(
    session: Session,
    now: datetime,
    component: Component,
    *,
    mp_appid: str,
    taskid: str,
    task_status: int,
    apply_status: int,
    message: str,
    dispatch_info: dict[str, Any] | None = None,
) -> bool:
    """``notify_3rd_wxa_auth``: a 代认证 task moved (the admin authorized it, its review order was answered)."""
    fields: dict[str, Any] = {
        "appid": mp_appid,
        "taskid": taskid,
        "task_status": task_status,
        "apply_status": apply_status,
        "message": message,
    }
    if dispatch_info is not None:
        fields["dispatch_info"] = dispatch_info
    return enqueue(session, now, component, WXA_AUTH, fields)


def enqueue_wxa_wxverify_event(
    session: Session, now: datetime, component: Component, *, mp_appid: str, expires_at: datetime, message: str
) -> bool:
    """``notify_3rd_wxa_wxverify``: the MP's certification and when it expires (``expired``, in seconds)."""
    fields = {"appid": mp_appid, "expired": _timestamp(expires_at), "message": message}
    return enqueue(session, now, component, WXA_WXVERIFY, fields)


def push_verify_ticket(platform: Platform, component_id: int | str) -> bool:
    """Queue a push of the component's current verify ticket (by id or appid); False without a callback."""
    with platform.uow() as uow:
        component = _component(uow.session, component_id)
        if component is None:
            return False
        queued = enqueue_verify_ticket(uow.session, uow.clock.now(), component)
        uow.commit()
        return queued


def _component(session: Session, component_id: int | str) -> Component | None:
    if isinstance(component_id, int):
        return session.get(Component, component_id)
    return session.execute(select(Component).where(Component.appid == component_id)).scalar_one_or_none()


def new_verify_ticket() -> str:
    return "ticket@@@" + crypto.new_token(32)


def remember_verify_ticket(session: Session, now: datetime, component: Component, ticket: str) -> None:
    """Make ``ticket`` the component's latest verify ticket; like every one issued before it, api_component_token
    accepts it for 12 hours (stored hashed, as every bearer secret)."""
    credentials.issue(
        session.info["unit_of_work"].credentials,
        now,
        CredentialKind.VERIFY_TICKET,
        component.appid,
        VERIFY_TICKET_TTL_SECONDS,
        component_id=component.id,
        raw=ticket,
    )
    component.verify_ticket, component.verify_ticket_at = ticket, now


def verify_ticket_valid(component: Component, now: datetime) -> bool:
    """Whether the component's latest verify ticket is still accepted (issued less than 12 hours ago)."""
    issued = component.verify_ticket_at
    return (
        bool(component.verify_ticket)
        and issued is not None
        and issued > now - timedelta(seconds=VERIFY_TICKET_TTL_SECONDS)
    )


def issue_verify_ticket(session: Session, now: datetime, component: Component) -> str:
    """A fresh verify ticket, queued for a push to the component's callback URL when it has one."""
    ticket = new_verify_ticket()
    remember_verify_ticket(session, now, component, ticket)
    enqueue_verify_ticket(session, now, component)
    return ticket


def refresh_due_verify_tickets(platform: Platform) -> int:
    """Issue (and queue the push of) a fresh verify ticket for every component with a callback URL whose
    ticket is older than ``verify_ticket_interval_seconds`` by the platform clock. Returns how many."""
    interval = timedelta(seconds=platform.settings.verify_ticket_interval_seconds)
    with platform.uow(readonly=True) as uow:
        cutoff = uow.clock.now() - interval
        due = uow.session.execute(
            select(Component.id).where(
                Component.callback_url.is_not(None),
                or_(Component.verify_ticket_at.is_(None), Component.verify_ticket_at <= cutoff),
            )
        ).all()
    if not due:
        return 0
    issued = 0
    with platform.uow() as uow:
        now = uow.clock.now()
        for (component_id,) in due:
            component = uow.session.get(Component, component_id)
            if component is None or not component.callback_url:
                continue
            previous = component.verify_ticket_at
            if previous is not None and previous > now - interval:
                continue
            ticket = new_verify_ticket()
            condition = (
                Component.verify_ticket_at.is_(None) if previous is None else Component.verify_ticket_at == previous
            )
            claimed = uow.session.execute(
                update(Component)
                .where(Component.id == component_id, condition)
                .values(verify_ticket=ticket, verify_ticket_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if claimed:
                remember_verify_ticket(uow.session, now, component, ticket)
                enqueue_verify_ticket(uow.session, now, component)
                issued += 1
        uow.commit()
    return issued


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Delivery:
    job_id: int
    attempts: int
    url: str
    push: wechat_crypto.EncryptedPush
    info_type: str


def claim_due(platform: Platform, limit: int = BATCH) -> list[Delivery]:
    """Claim due jobs (lease them for ``LEASE_SECONDS``) and prepare their encrypted bodies."""
    real_now = _real.now()
    with platform.uow(readonly=True) as uow:
        any_due = uow.session.execute(
            select(PushJob.id).where(PushJob.delivered_at.is_(None), PushJob.next_attempt_at <= real_now).limit(1)
        ).first()
    if not any_due:
        return []
    deliveries: list[Delivery] = []
    with platform.uow() as uow:
        session = uow.session
        jobs = session.execute(
            select(PushJob)
            .where(PushJob.delivered_at.is_(None), PushJob.next_attempt_at <= real_now)
            .order_by(PushJob.next_attempt_at, PushJob.id)
            .limit(limit)
        ).scalars()
        for job in list(jobs):
            claimed = session.execute(
                update(PushJob)
                .where(
                    PushJob.id == job.id,
                    PushJob.delivered_at.is_(None),
                    PushJob.next_attempt_at == job.next_attempt_at,
                )
                .values(next_attempt_at=real_now + timedelta(seconds=LEASE_SECONDS))
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if not claimed:
                continue
            component = session.get(Component, job.component_id)
            if component is None or not component.callback_url:
                session.execute(
                    update(PushJob)
                    .where(PushJob.id == job.id)
                    .values(last_error="component has no callback URL any more", next_attempt_at=real_now)
                    .execution_options(synchronize_session=False)
                )
                log.warning("push %s kept: component %s has no callback URL", job.id, job.component_id)
                continue
            message = wechat_crypto.xml_message(dict(job.payload.get("message", {})))
            push = wechat_crypto.encrypt_push(
                token=component.token,
                encoding_aes_key=component.encoding_aes_key,
                appid=component.appid,
                message=message,
                timestamp=_timestamp(real_now),
            )
            deliveries.append(Delivery(job.id, job.attempts, component.callback_url, push, job.info_type))
        uow.commit()
    return deliveries


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to: ``error`` (it is retried), or delivered, with a ``note`` when the
    callback answered 2xx without the documented ``success``."""

    error: str | None = None
    note: str | None = None


def record_outcome(platform: Platform, delivery: Delivery, outcome: Outcome) -> None:
    real_now = _real.now()
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {"attempts": attempts}
    if outcome.error is None:
        values.update(delivered_at=real_now, last_error=outcome.note, next_attempt_at=DELIVERED)
        if outcome.note:
            log.warning(
                "push %s (%s) to %s delivered, not retried, but %s",
                delivery.job_id,
                delivery.info_type,
                delivery.url,
                outcome.note,
            )
    else:
        delay = backoff_seconds(attempts)
        values.update(next_attempt_at=real_now + timedelta(seconds=delay), last_error=outcome.error[:2000])
        log.warning(
            "push %s (%s) to %s failed (attempt %d): %s; retrying in %.0f s",
            delivery.job_id,
            delivery.info_type,
            delivery.url,
            attempts,
            outcome.error,
            delay,
        )
    with platform.uow() as uow:
        uow.session.execute(
            update(PushJob)
            .where(PushJob.id == delivery.job_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    if outcome.error is not None:
        platform.observer.record_push_failure()


async def deliver(client: httpx.AsyncClient, delivery: Delivery) -> Outcome:
    """POST one push. A non-2xx answer or any failure to send (a refused connection, a timeout, a URL httpx
    cannot even parse) is an error for this push alone; a 2xx answer delivers it, noting a body other than
    ``success``."""
    try:
        response = await client.post(
            delivery.url,
            params=delivery.push.params,
            content=delivery.push.body.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    except Exception as exc:  # httpx.InvalidURL is not an httpx.HTTPError
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    if not 200 <= response.status_code < 300:
        return Outcome(error=f"HTTP {response.status_code}")
    answer = response.text.strip()
    if answer != SUCCESS:
        return Outcome(note=f"the callback answered HTTP {response.status_code} {answer[:200]!r}, not {SUCCESS!r}")
    return Outcome()


async def run_once(platform: Platform, client: httpx.AsyncClient) -> int:
    """One pass of the worker: refresh due tickets, deliver due pushes. Returns how many were attempted."""
    await asyncio.to_thread(refresh_due_verify_tickets, platform)
    deliveries = await asyncio.to_thread(claim_due, platform)
    if not deliveries:
        return 0
    outcomes = await asyncio.gather(*(deliver(client, d) for d in deliveries))
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        await asyncio.to_thread(record_outcome, platform, delivery, outcome)
    return len(deliveries)


async def run_worker(
    platform: Platform, stop: asyncio.Event, woken: asyncio.Event, poll_seconds: float = POLL_SECONDS
) -> None:
    """Deliver until ``stop``: a pass whenever ``woken`` is set (a push was committed in this process, or the
    worker is stopping), and every ``poll_seconds`` anyway (pushes queued by other processes, retries due)."""
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS) as client:
        while not stop.is_set():
            woken.clear()  # before the pass: a push committed during it wakes the next one
            try:
                attempted = await run_once(platform, client)
            except Exception:  # the worker must outlive a bad pass (e.g. a reset wiping rows mid-flight)
                log.exception("push worker pass failed")
                attempted = 0
            if attempted:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=poll_seconds)


@dataclass
class PushWorker:
    stop_event: asyncio.Event
    woken: asyncio.Event
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.stop_event.set()
        self.woken.set()
        try:
            await asyncio.wait_for(self.task, timeout=DELIVERY_TIMEOUT_SECONDS + 2)
        except (TimeoutError, asyncio.CancelledError):
            self.task.cancel()


def start_worker(platform: Platform) -> PushWorker:
    """Start the delivery loop on the running event loop (called from the app's lifespan)."""
    stop, woken = asyncio.Event(), platform.push_queued.bind()
    worker = run_worker(platform, stop, woken, platform.settings.push_poll_seconds)
    return PushWorker(stop, woken, asyncio.create_task(worker, name="fastreg-push-worker"))
