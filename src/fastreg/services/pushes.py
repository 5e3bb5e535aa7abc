"""The worker: component pushes, the mail outbox and the expiry sweeps.

Component pushes: ``component_verify_ticket`` every 10 minutes (each ticket valid 12 hours), authorization
events (``authorized``, ``updateauthorized``) and 代认证 events (``notify_3rd_wxa_auth``,
``notify_3rd_wxa_wxverify``), POSTed to the component's callback URL encrypted and signed exactly as WeChat does
(``context.push_sealer``).

Pushes are queued (``uow.pushes``) in the same transaction as the change they announce, so none is lost; a
background worker (started with the app) delivers them, woken as soon as a push is committed in its process
(every ``settings.push_poll_seconds`` otherwise, for pushes queued elsewhere and retries). A job is claimed by a
conditional update, so any number of workers on any number of hosts deliver each push once; a failed delivery is
logged and retried with exponential backoff (1 s, 2 s, 4 s ... capped at 10 minutes) until the callback answers
2xx. The callback is documented to answer ``success``: a 2xx with another body is delivered, and logged.

Mail goes the same way (``queue_mail``, ``uow.mail``): a use case queues it in its transaction, the same worker
sends it through the SMTP mailer after the commit, retried with the same backoff while the SMTP server is down.
The worker also closes what expired (``sweep_expired``), so that pages and polls only read.

Delivery scheduling uses the real clock (it is about the network); message contents (``CreateTime``) and the
10-minute ticket rhythm use the platform clock, so moving the sandbox clock also moves the ticket pushes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import certifi
import urllib3

from fastreg.domain import secrets
from fastreg.domain.clock import Clock, SystemClock, as_utc
from fastreg.domain.entities import Component, Credential, OutgoingMail, PushJob
from fastreg.services.ports import Context, UnitOfWork
from fastreg.services.ports.worker import MailContent, PushQueue, SealedPush

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


def enqueue(queue: PushQueue, now: datetime, component: Component, info_type: str, fields: dict[str, Any]) -> bool:
    """Queue a push for the component's callback; False (nothing queued) when it has no callback URL. Once the
    transaction commits, this process's worker delivers it at once (the queue wakes it)."""
    if not component.callback_url:
        return False
    message = {"AppId": component.appid, "CreateTime": _timestamp(now), "InfoType": info_type, **fields}
    queue.add(
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
    return True


def enqueue_verify_ticket(queue: PushQueue, now: datetime, component: Component) -> bool:
    if not component.verify_ticket:
        return False
    return enqueue(queue, now, component, VERIFY_TICKET, {"ComponentVerifyTicket": component.verify_ticket})


def enqueue_authorization_event(
    queue: PushQueue,
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
    return enqueue(queue, now, component, info_type, fields)


def enqueue_wxa_auth_event(
    queue: PushQueue,
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
    return enqueue(queue, now, component, WXA_AUTH, fields)


def enqueue_wxa_wxverify_event(
    queue: PushQueue, now: datetime, component: Component, *, mp_appid: str, expires_at: datetime, message: str
) -> bool:
    """``notify_3rd_wxa_wxverify``: the MP's certification and when it expires (``expired``, in seconds)."""
    fields = {"appid": mp_appid, "expired": _timestamp(expires_at), "message": message}
    return enqueue(queue, now, component, WXA_WXVERIFY, fields)


def push_verify_ticket(context: Context, component_id: int | str) -> bool:
    """Queue a push of the component's current verify ticket (by id or appid); False without a callback."""
    with context.uow() as uow:
        component = uow.pushes.component(component_id)
        if component is None:
            return False
        queued = enqueue_verify_ticket(uow.pushes, uow.clock.now(), component)
        uow.commit()
        return queued


def new_verify_ticket() -> str:
    return "ticket@@@" + secrets.new_token(32)


def remember_verify_ticket(queue: PushQueue, now: datetime, component: Component, ticket: str) -> None:
    """Make ``ticket`` the component's latest verify ticket; like every one issued before it, api_component_token
    accepts it for 12 hours (stored hashed, as every bearer secret)."""
    queue.store_verify_ticket(
        component,
        Credential(
            token_hash=secrets.token_hash(ticket),
            kind="verify_ticket",  # credentials.CredentialKind.VERIFY_TICKET
            subject=component.appid,
            component_id=component.id,
            data=None,
            issued_at=now,
            expires_at=now + timedelta(seconds=VERIFY_TICKET_TTL_SECONDS),
            used_at=None,
        ),
        ticket,
    )


def verify_ticket_valid(component: Component, now: datetime) -> bool:
    """Whether the component's latest verify ticket is still accepted (issued less than 12 hours ago)."""
    issued = component.verify_ticket_at
    return (
        bool(component.verify_ticket)
        and issued is not None
        and issued > now - timedelta(seconds=VERIFY_TICKET_TTL_SECONDS)
    )


def issue_verify_ticket(queue: PushQueue, now: datetime, component: Component) -> str:
    """A fresh verify ticket, queued for a push to the component's callback URL when it has one."""
    ticket = new_verify_ticket()
    remember_verify_ticket(queue, now, component, ticket)
    enqueue_verify_ticket(queue, now, component)
    return ticket


def refresh_due_verify_tickets(context: Context) -> int:
    """Issue (and queue the push of) a fresh verify ticket for every component with a callback URL whose
    ticket is older than ``verify_ticket_interval_seconds`` by the platform clock. Returns how many."""
    interval = timedelta(seconds=context.settings.verify_ticket_interval_seconds)
    with context.uow(readonly=True) as uow:
        due = uow.pushes.components_due_for_ticket(uow.clock.now() - interval)
    if not due:
        return 0
    issued = 0
    with context.uow() as uow:
        now = uow.clock.now()
        for component_id in due:
            component = uow.pushes.component(component_id)
            if component is None or not component.callback_url:
                continue
            previous = component.verify_ticket_at
            if previous is not None and previous > now - interval:
                continue
            ticket = new_verify_ticket()
            # A conditional update: of several workers, one renews the ticket.
            if uow.pushes.claim_ticket_renewal(component, previous, ticket, now):
                remember_verify_ticket(uow.pushes, now, component, ticket)
                enqueue_verify_ticket(uow.pushes, now, component)
                issued += 1
        uow.commit()
    return issued


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Delivery:
    job_id: int
    attempts: int
    url: str
    push: SealedPush
    info_type: str


def claim_due(context: Context, limit: int = BATCH) -> list[Delivery]:
    """Claim due jobs (lease them for ``LEASE_SECONDS``) and prepare their encrypted bodies. The worker calls it
    once ``what_is_due`` found a push due, so it does not ask again."""
    real_now = _real.now()
    deliveries: list[Delivery] = []
    with context.uow() as uow:
        for due in uow.pushes.claim_due(real_now, real_now + timedelta(seconds=LEASE_SECONDS), limit):
            job, component = due.job, due.component
            if component is None or not component.callback_url:
                uow.pushes.record_attempt(
                    job.id,
                    attempts=job.attempts,
                    next_attempt_at=real_now,
                    delivered_at=None,
                    last_error="component has no callback URL any more",
                )
                log.warning("push %s kept: component %s has no callback URL", job.id, job.component_id)
                continue
            push = context.push_sealer.seal(component, dict(job.payload.get("message", {})), _timestamp(real_now))
            deliveries.append(Delivery(job.id, job.attempts, component.callback_url, push, job.info_type))
        uow.commit()
    return deliveries


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to: ``error`` (it is retried), or delivered, with a ``note`` when the
    callback answered 2xx without the documented ``success``."""

    error: str | None = None
    note: str | None = None


def record_outcome(context: Context, delivery: Delivery, outcome: Outcome) -> None:
    real_now = _real.now()
    attempts = delivery.attempts + 1
    if outcome.error is None:
        next_attempt_at, delivered_at, last_error = DELIVERED, real_now, outcome.note
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
        next_attempt_at, delivered_at = real_now + timedelta(seconds=delay), None
        last_error = outcome.error[:2000]
        log.warning(
            "push %s (%s) to %s failed (attempt %d): %s; retrying in %.0f s",
            delivery.job_id,
            delivery.info_type,
            delivery.url,
            attempts,
            outcome.error,
            delay,
        )
    with context.uow() as uow:
        uow.pushes.record_attempt(
            delivery.job_id,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
            last_error=last_error,
        )
        uow.commit()
    if outcome.error is not None:
        context.observer.record_push_failure()


def push_url(url: str, params: dict[str, str]) -> str:
    """The callback URL with the push's query parameters after its own."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))


def new_sender() -> urllib3.PoolManager:
    """The worker's HTTP client: kept-alive connections to the callback URLs, certificates checked against
    certifi's bundle, no retries and no redirects followed (the worker retries a push with backoff)."""
    return urllib3.PoolManager(
        maxsize=BATCH,
        ssl_context=ssl.create_default_context(cafile=certifi.where()),
        retries=False,
        timeout=urllib3.Timeout(total=DELIVERY_TIMEOUT_SECONDS),
    )


def deliver(sender: urllib3.PoolManager, delivery: Delivery) -> Outcome:
    """POST one push (blocking: one of the worker's delivery threads). A non-2xx answer or any failure to send
    (a refused connection, a timeout, a URL that cannot even be parsed) is an error for this push alone; a 2xx
    answer delivers it, noting a body other than ``success``. urllib3 rather than httpx: 1 against 3 ms of
    CPU per push (``bench/integrator.py`` sends three per test)."""
    try:
        response = sender.request(
            "POST",
            push_url(delivery.url, delivery.push.params),
            body=delivery.push.body.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
    except Exception as exc:  # urllib3's errors, and a URL it cannot parse (LocationParseError, ValueError)
        return Outcome(error=f"{type(exc).__name__}: {exc}")
    if not 200 <= response.status < 300:
        return Outcome(error=f"HTTP {response.status}")
    answer = response.data.decode("utf-8", "replace").strip()
    if answer != SUCCESS:
        return Outcome(note=f"the callback answered HTTP {response.status} {answer[:200]!r}, not {SUCCESS!r}")
    return Outcome()


# ---------------------------------------------------------------- mail (the transactional outbox)


def queue_mail(context: Context, uow: UnitOfWork, to: str, template: str, **params: object) -> None:
    """Queue the mail ``template`` says to ``to``, in ``uow``'s transaction: nothing is sent unless it commits,
    and nothing is lost if the SMTP server is down meanwhile (the worker retries). The queue wakes this
    process's worker on commit."""
    content: MailContent = context.mail_templates.render(template, **params)
    uow.mail.queue(
        OutgoingMail(
            to=to,
            subject=content.subject,
            text=content.text,
            html=content.html,
            attempts=0,
            next_attempt_at=_real.now(),
            created_at=uow.clock.now(),
        )
    )


def send_due_mail(context: Context, limit: int = BATCH) -> int:
    """Send the due mails through the SMTP mailer (claimed first, so each is sent once by all the workers);
    a refused or unreachable SMTP server leaves the mail queued, retried with backoff. Returns how many were
    tried."""
    mailer = context.mailer
    if mailer is None:
        return 0
    real_now = _real.now()
    with context.uow(readonly=True) as uow:
        if not uow.mail.any_due(real_now):
            return 0
    with context.uow() as uow:
        claimed = uow.mail.claim_due(real_now, real_now + timedelta(seconds=LEASE_SECONDS), limit)
        uow.commit()
    for mail in claimed:
        attempts, sent_at, error = mail.attempts + 1, None, None
        try:
            mailer.send(mail.to, mail.subject, mail.text, mail.html)
        except Exception as exc:  # smtplib.SMTPException, OSError: the server refused or is unreachable
            delay = backoff_seconds(attempts)
            log.warning(
                "mail %s to %s failed (attempt %d): %s; retrying in %.0f s", mail.id, mail.to, attempts, exc, delay
            )
            next_attempt_at, error = _real.now() + timedelta(seconds=delay), f"{type(exc).__name__}: {exc}"[:2000]
        else:
            next_attempt_at, sent_at = DELIVERED, _real.now()
        with context.uow() as uow:
            uow.mail.record_attempt(
                mail.id, attempts=attempts, next_attempt_at=next_attempt_at, sent_at=sent_at, last_error=error
            )
            uow.commit()
    return len(claimed)


# ---------------------------------------------------------------- expiry sweeps


def sweep_expired(context: Context) -> int:
    """Close what expired (open registrations past their time to live), so that no page or poll has to write:
    they read and count a row expired by its time, the worker writes the change."""
    from fastreg.services import registration

    return registration.expire_stale(context)


# ---------------------------------------------------------------- the worker


@dataclass(frozen=True)
class DueWork:
    """Which of the worker's kinds of work has something due."""

    tickets: bool
    mail: bool
    stale: bool
    pushes: bool


def what_is_due(context: Context) -> DueWork:
    """The worker's four questions in one read-only transaction: most passes find nothing or only a push to
    deliver, and each of the four steps would otherwise open a transaction of its own to ask."""
    settings = context.settings
    with context.uow(readonly=True) as uow:
        now, real_now = uow.clock.now(), _real.now()
        return DueWork(
            tickets=bool(
                uow.pushes.components_due_for_ticket(now - timedelta(seconds=settings.verify_ticket_interval_seconds))
            ),
            mail=context.mailer is not None and uow.mail.any_due(real_now),
            stale=bool(uow.registrations.oas_with_stale_open(now - timedelta(seconds=settings.pending_ttl_seconds))),
            pushes=uow.pushes.any_due(real_now),
        )


def due_work(context: Context) -> tuple[int, list[Delivery]]:
    """A pass's work on the database, in one worker thread (one hop from the loop instead of four): refresh
    due tickets, send due mail, close what expired, claim due pushes; each only when something of its kind is
    due. Returns how many mails were attempted and the claimed deliveries."""
    due = what_is_due(context)
    if due.tickets:
        refresh_due_verify_tickets(context)
    mailed = send_due_mail(context) if due.mail else 0
    if due.stale:
        sweep_expired(context)
    return mailed, claim_due(context) if due.pushes or due.tickets else []


def record_outcomes(context: Context, outcomes: list[tuple[Delivery, Outcome]]) -> None:
    for delivery, outcome in outcomes:
        record_outcome(context, delivery, outcome)


@dataclass
class Senders:
    """The worker's delivery threads (one per push of a batch, so that a slow callback holds up no other) and
    their HTTP client."""

    pool: urllib3.PoolManager
    threads: ThreadPoolExecutor

    @classmethod
    def start(cls) -> Senders:
        return cls(new_sender(), ThreadPoolExecutor(max_workers=BATCH, thread_name_prefix="fastreg-push"))

    def close(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)
        self.pool.clear()


async def run_once(context: Context, senders: Senders) -> bool:
    """One pass of the worker: the database's work in a thread, then the due pushes delivered at once (each in
    a delivery thread), then their outcomes recorded in a thread. True when a batch was full (more may be due
    at once)."""
    mailed, deliveries = await asyncio.to_thread(due_work, context)
    if deliveries:
        loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(senders.threads, deliver, senders.pool, d) for d in deliveries)
        )
        await asyncio.to_thread(record_outcomes, context, list(zip(deliveries, outcomes, strict=True)))
    return mailed >= BATCH or len(deliveries) >= BATCH


async def run_worker(
    context: Context, stop: asyncio.Event, woken: asyncio.Event, poll_seconds: float = POLL_SECONDS
) -> None:
    """Deliver until ``stop``: a pass whenever ``woken`` is set (a push or a mail was committed in this process,
    or the worker is stopping), at once again after a full batch, and every ``poll_seconds`` anyway (queued by
    other processes, retries due, tickets to renew, registrations to close)."""
    senders = Senders.start()
    try:
        while not stop.is_set():
            woken.clear()  # before the pass: a push committed during it wakes the next one
            try:
                more = await run_once(context, senders)
            except Exception:  # the worker must outlive a bad pass (e.g. a reset wiping rows mid-flight)
                log.exception("push worker pass failed")
                more = False
            if more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=poll_seconds)
    finally:
        senders.close()


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


def start_worker(context: Context) -> PushWorker:
    """Start the delivery loop on the running event loop (called from the app's lifespan)."""
    stop, woken = asyncio.Event(), context.push_queued.bind()
    worker = run_worker(context, stop, woken, context.settings.push_poll_seconds)
    return PushWorker(stop, woken, asyncio.create_task(worker, name="fastreg-push-worker"))
