"""SQL repositories of the worker area (``services/ports/worker.py``): the push queue, the mail outbox and the
sandbox's key/value state. A queued job (push or mail) is claimed by a conditional update of its
``next_attempt_at`` (a lease), so any number of workers on any number of hosts take each job once."""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet
from sqlalchemy import Table, bindparam, delete, func, or_, select, update

from fastreg.adapters.db import clock as db_clock
from fastreg.adapters.db import statements as sql
from fastreg.adapters.db.models import (
    AuditEvent,
    Component,
    Link,
    MailMessage,
    OutgoingMail,
    PersonalWechatEmail,
    PushJob,
    Registration,
    SandboxState,
    audit_events,
    components,
    credentials,
    links,
    mail_outbox,
    mini_programs,
    official_accounts,
    outgoing_mail,
    push_jobs,
    registrations,
    sandbox_state,
)
from fastreg.adapters.db.prepared import PreparedConnection, RideAlong, prepared
from fastreg.domain.clock import Clock
from fastreg.domain.entities import CredentialValues
from fastreg.domain.faults import Fault
from fastreg.domain.model import LinkStatus
from fastreg.services.ports.worker import DuePush

if TYPE_CHECKING:
    from fastreg.adapters.db.uow import UnitOfWork

FAULT_PREFIX = "fault:"
_FAULT_END = "fault;"  # ";" follows ":": the keys of faults are exactly those in [FAULT_PREFIX, _FAULT_END)
FAULT_ROWS = select(sandbox_state.c.key, sandbox_state.c.value).where(
    sandbox_state.c.key >= FAULT_PREFIX, sandbox_state.c.key < _FAULT_END
)


def _faults(rows: Any) -> list[Fault]:
    found = [Fault.from_state(key.removeprefix(FAULT_PREFIX), dict(value)) for key, value in rows]
    return sorted(found, key=lambda fault: (fault.order, fault.id))


def read_faults(conn: PreparedConnection) -> list[Fault]:
    """Every injected fault, oldest first, by one prepared statement (the web layer's short read)."""
    return _faults(conn.execute(FAULT_ROWS, {}).rows)


def faults_read_along(check: Callable[[list[Fault]], None]) -> RideAlong:
    """``read_faults`` sent with the first round trip of a use case's units of work (``uow.run_on_connection``),
    ``check`` given its faults as soon as they are answered."""
    return RideAlong(FAULT_ROWS, {}, lambda rows: check(_faults(rows)))


@functools.cache
def _mail_fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(("outgoing-mail:" + secret_key).encode()).digest()))


def _wake_worker_on_commit(uow: UnitOfWork) -> None:
    """Once the job is committed, this process's worker takes it at once instead of at its next poll."""
    if uow.wake_worker is not None:
        uow.on_commit(uow.wake_worker)


@functools.cache
def _due_rows(table: Table, done: str, limit: int) -> Any:
    """Up to ``limit`` due rows of a job table, the earliest first (prepared: the worker asks at every pass)."""
    t = table
    return (
        select(t.c.id, t.c.next_attempt_at)
        .where(t.c[done].is_(None), t.c.next_attempt_at <= bindparam("now"))
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
    )


@functools.cache
def _lease(table: Table, done: str) -> Any:
    """Lease a due row by a conditional update (bind names apart from the columns: an UPDATE reserves those)."""
    t = table
    return (
        update(t)
        .where(t.c.id == bindparam("row_id"), t.c[done].is_(None), t.c.next_attempt_at == bindparam("attempt_at"))
        .values(next_attempt_at=bindparam("lease_until"))
    )


@functools.cache
def _record_attempt(table: Table, columns: tuple[str, ...]) -> Any:
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({column: bindparam(f"new_{column}") for column in columns})
    )


_COMPONENTS_DUE_FOR_TICKET = select(components.c.id).where(
    components.c.callback_url.is_not(None),
    or_(components.c.verify_ticket_at.is_(None), components.c.verify_ticket_at <= bindparam("issued_before")),
)


class _Leases:
    """Claiming due rows of a job table (``push_jobs``, ``outgoing_mail``) by a conditional update."""

    def __init__(self, uow: UnitOfWork, table: Table, done: str) -> None:
        self._uow, self._table, self._done = uow, table, done

    def any_due(self, now: datetime) -> bool:
        return self._uow.conn.execute(_due_rows(self._table, self._done, 1), {"now": now}).first() is not None

    def claim(self, now: datetime, lease_until: datetime, limit: int) -> Sequence[Any]:
        """The due rows' ids this transaction leased (the others were leased by another worker meanwhile)."""
        conn = self._uow.conn
        due = conn.execute(_due_rows(self._table, self._done, limit), {"now": now}).rows
        claimed = []
        for row in due:
            lease = {"row_id": row.id, "attempt_at": row.next_attempt_at, "lease_until": lease_until}
            if conn.execute(_lease(self._table, self._done), lease).rowcount:
                claimed.append(row.id)
        return claimed

    def record(self, row_id: int, **values: Any) -> None:
        statement = _record_attempt(self._table, tuple(sorted(values)))
        self._uow.conn.execute(statement, {"row_id": row_id, **{f"new_{key}": value for key, value in values.items()}})


class SqlPushQueue:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._leases = _Leases(uow, push_jobs, "delivered_at")

    def add(self, job: PushJob) -> None:
        self._uow.session.add(job)
        _wake_worker_on_commit(self._uow)

    def any_due(self, now: datetime) -> bool:
        return self._leases.any_due(now)

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[DuePush]:
        session = self._uow.session
        claimed: list[DuePush] = []
        for job_id in self._leases.claim(now, lease_until, limit):
            job = session.get(PushJob, job_id, populate_existing=True)
            if job is not None:
                claimed.append(DuePush(job, session.get(Component, job.component_id)))
        return claimed

    def record_attempt(
        self,
        job_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        delivered_at: datetime | None,
        last_error: str | None,
    ) -> None:
        self._leases.record(
            job_id,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
            last_error=last_error,
        )

    def component(self, key: int | str) -> Component | None:
        session = self._uow.session
        if isinstance(key, int):
            return session.get(Component, key)
        return session.execute(select(Component).where(components.c.appid == key)).scalar_one_or_none()

    def components_due_for_ticket(self, issued_before: datetime) -> list[int]:
        due = self._uow.conn.execute(_COMPONENTS_DUE_FOR_TICKET, {"issued_before": issued_before})
        return [row.id for row in due.rows]

    def claim_ticket_renewal(self, component: Component, previous: datetime | None, ticket: str, now: datetime) -> bool:
        c = components
        unchanged = c.c.verify_ticket_at.is_(None) if previous is None else c.c.verify_ticket_at == previous
        claimed = self._uow.session.execute(
            update(c)
            .where(c.c.id == component.id, unchanged)
            .values(verify_ticket=ticket, verify_ticket_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        return bool(claimed)

    def store_verify_ticket(self, component: Component, credential: CredentialValues, ticket: str) -> None:
        session = self._uow.session
        if session.new:  # rows the credential may refer to
            session.flush()
        values = {column.key: getattr(credential, column.key) for column in credentials.columns}
        prepared(session).execute(sql.INSERT_CREDENTIAL, values)
        component.verify_ticket, component.verify_ticket_at = ticket, credential.issued_at


class SqlMailOutbox:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._leases = _Leases(uow, outgoing_mail, "sent_at")

    def queue(self, mail: OutgoingMail) -> None:
        # A mail can carry a bearer secret (the activation link): its parts are stored sealed with the
        # platform's secret key, so the database alone never shows it.
        fernet = self._fernet()
        mail.text, mail.html = fernet.encrypt(mail.text.encode()).decode(), fernet.encrypt(mail.html.encode()).decode()
        self._uow.session.add(mail)
        _wake_worker_on_commit(self._uow)

    def _fernet(self) -> Fernet:
        return _mail_fernet(self._uow.secret_key)

    def _opened(self, stored: OutgoingMail) -> OutgoingMail:
        """A detached copy with its parts unsealed (the stored row keeps them sealed)."""
        fernet = self._fernet()
        mail = OutgoingMail(
            to=stored.to,
            subject=stored.subject,
            text=fernet.decrypt(stored.text.encode()).decode(),
            html=fernet.decrypt(stored.html.encode()).decode(),
            attempts=stored.attempts,
            next_attempt_at=stored.next_attempt_at,
            sent_at=stored.sent_at,
            last_error=stored.last_error,
            created_at=stored.created_at,
        )
        mail.id = stored.id
        return mail

    def any_due(self, now: datetime) -> bool:
        return self._leases.any_due(now)

    def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[OutgoingMail]:
        ids = self._leases.claim(now, lease_until, limit)
        if not ids:
            return []
        query = select(OutgoingMail).where(outgoing_mail.c.id.in_(ids)).order_by(outgoing_mail.c.id)
        stored = self._uow.session.execute(query.execution_options(populate_existing=True)).scalars()
        return [self._opened(mail) for mail in stored]

    def record_attempt(
        self,
        mail_id: int,
        *,
        attempts: int,
        next_attempt_at: datetime,
        sent_at: datetime | None,
        last_error: str | None,
    ) -> None:
        self._leases.record(
            mail_id, attempts=attempts, next_attempt_at=next_attempt_at, sent_at=sent_at, last_error=last_error
        )

    def untried(self) -> int:
        t = outgoing_mail
        query = select(func.count()).select_from(t).where(t.c.sent_at.is_(None), t.c.attempts == 0)
        return int(self._uow.session.execute(query).scalar_one())


class SqlSandboxStateRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def faults(self) -> list[Fault]:
        return read_faults(prepared(self._uow.session))

    def add_fault(self, fault: Fault) -> None:
        self._uow.session.add(SandboxState(key=FAULT_PREFIX + fault.id, value=fault.state()))

    def lock_fault(self, fault_id: str) -> Fault | None:
        row = self._uow.session.get(SandboxState, FAULT_PREFIX + fault_id, with_for_update=True)
        return None if row is None else Fault.from_state(fault_id, dict(row.value))

    def save_fault(self, fault: Fault) -> None:
        self._uow.session.execute(
            update(sandbox_state)
            .where(sandbox_state.c.key == FAULT_PREFIX + fault.id)
            .values(value=fault.state())
            .execution_options(synchronize_session=False)
        )

    def delete_fault(self, fault_id: str) -> bool:
        result = self._uow.session.execute(delete(sandbox_state).where(sandbox_state.c.key == FAULT_PREFIX + fault_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete_faults(self) -> int:
        result = self._uow.session.execute(
            delete(sandbox_state).where(sandbox_state.c.key >= FAULT_PREFIX, sandbox_state.c.key < _FAULT_END)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- the sandbox clock

    def clock_setting(self, real: Clock) -> tuple[Clock, bool]:
        return db_clock.load_clock(self._uow.session, real)

    def freeze_clock(self, at: datetime) -> None:
        db_clock.freeze(self._uow.session, at)

    def advance_clock(self, real: Clock, seconds: float) -> None:
        db_clock.advance(self._uow.session, real, seconds)

    def make_clock_real(self) -> None:
        db_clock.make_real(self._uow.session)

    # ---------------------------------------------------------------- what the control API shows and sets

    def pending_registration(self, oa_id: int) -> Registration | None:
        r = registrations
        query = select(Registration).where(r.c.oa_id == oa_id, r.c.status == sql.PENDING_STATUS)
        return self._uow.session.execute(query.limit(1)).scalars().first()

    def current_link_of_mp(self, mp_id: int) -> tuple[Link, str] | None:
        query = (
            select(Link, official_accounts.c.appid)
            .join(official_accounts, official_accounts.c.id == links.c.oa_id)
            .where(links.c.mp_id == mp_id)
            .order_by((links.c.status == LinkStatus.LINKED.value).desc(), links.c.id)
            .limit(1)
        )
        row = self._uow.session.execute(query).first()
        return None if row is None else (row[0], str(row[1]))

    def audit_events(self, appid: str | None) -> list[AuditEvent]:
        query = select(AuditEvent).order_by(audit_events.c.id)
        if appid:
            query = query.where(or_(audit_events.c.oa_appid == appid, audit_events.c.mp_appid == appid))
        return list(self._uow.session.execute(query).scalars())

    def delivered_mail(self, to: str | None) -> list[MailMessage]:
        query = select(MailMessage).order_by(mail_outbox.c.id)
        if to:
            query = query.where(mail_outbox.c.to == to)
        return list(self._uow.session.execute(query).scalars())

    def add_personal_wechat_email(self, email: str) -> None:
        session = self._uow.session
        if session.get(PersonalWechatEmail, email) is None:
            session.add(PersonalWechatEmail(email=email))

    def account_exists(self, appid: str) -> bool:
        session = self._uow.session
        return bool(
            session.execute(select(official_accounts.c.id).where(official_accounts.c.appid == appid)).first()
            or session.execute(select(mini_programs.c.id).where(mini_programs.c.appid == appid)).first()
        )

    def value(self, key: str) -> dict[str, Any] | None:
        state = self._uow.session.get(SandboxState, key)
        return None if state is None else state.value

    def set_value(self, key: str, value: dict[str, Any]) -> None:
        state = self._uow.session.get(SandboxState, key)
        if state is None:
            self._uow.session.add(SandboxState(key=key, value=value))
        else:
            state.value = value
