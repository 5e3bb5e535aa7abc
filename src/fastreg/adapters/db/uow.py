"""The unit of work: one session, one transaction, committed once by the service that owns it.

Group commit (``run_grouped``): several use cases run one after the other inside one transaction, each in its
own savepoint (a refused one rolls back to it and leaves the others alone), and the transaction commits once
for all of them. Nothing about any of them is answered before that commit, so an answered success is durable
as before; the commit, the transaction's set-up and the sandbox clock are paid once per group instead of once
per request.

Units of work do not nest: opening one while another is open in the same thread (or task, or greenlet) raises
:class:`NestedUnitOfWork` at once. On SQLite the inner one would wait for the write lock the outer one holds (30 s,
then "database is locked"); on PostgreSQL it would silently be a second transaction, committed or rolled back apart
from the first. Only a group (``run_grouped``) puts several in one transaction, each in a savepoint of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from fastreg.adapters.db.clock import load_clock
from fastreg.adapters.db.prepared import PreparedConnection, RideAlong
from fastreg.adapters.db.repositories.accounts import (
    SqlAccountRepository,
    SqlAuditLog,
    SqlSessionRepository,
    SqlWechatUserRepository,
)
from fastreg.adapters.db.repositories.components import (
    SqlAuthorizationRepository,
    SqlComponentRepository,
    SqlLinkRepository,
    SqlVerificationTaskRepository,
)
from fastreg.adapters.db.repositories.credentials import SqlCredentialRepository, SqlFastRegisterGateway
from fastreg.adapters.db.repositories.registrations import (
    SqlConfirmationRepository,
    SqlCounterRepository,
    SqlRegistrationRepository,
)
from fastreg.adapters.db.repositories.worker import SqlMailOutbox, SqlPushQueue, SqlSandboxStateRepository
from fastreg.domain.clock import Clock

T = TypeVar("T")


class ClockSource(Protocol):
    def resolve(self, conn: PreparedConnection) -> Clock:
        """The clock in force for this transaction."""
        ...


class FixedClockSource:
    """Production (system clock) and tests (a fake clock object)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def resolve(self, conn: PreparedConnection) -> Clock:
        return self.clock


class SandboxClockSource:
    """The sandbox clock lives in the database, so every worker agrees on it."""

    def __init__(self, real: Clock) -> None:
        self.real = real

    def resolve(self, conn: PreparedConnection) -> Clock:
        return load_clock(conn, self.real)[0]


class _ClockOnFirstUse:
    """The transaction's clock, read from its source when first asked for the time: inside a batch, the
    sandbox clock's query then goes to PostgreSQL with the statements queued before it (and the BEGIN), in
    one round trip instead of two of its own."""

    __slots__ = ("_clock", "_conn", "_source")

    def __init__(self, source: ClockSource, conn: PreparedConnection) -> None:
        self._source = source
        self._conn = conn
        self._clock: Clock | None = None

    def now(self) -> datetime:
        if self._clock is None:
            self._clock = self._source.resolve(self._conn)
        return self._clock.now()


class NestedUnitOfWork(RuntimeError):
    """A unit of work opened while another is open in the same context: a bug of the code that opens it."""


# The unit of work a group of use cases shares while ``run_grouped`` runs them.
_group: ContextVar[UnitOfWork | None] = ContextVar("fastreg_write_group", default=None)

# The unit of work open in this context (thread, task or greenlet), if any.
_open: ContextVar[UnitOfWork | None] = ContextVar("fastreg_open_unit_of_work", default=None)

# The connection lent to the units of work of a use case that an event loop runs (``run_on_connection``): the
# runner's, opened and closed by it (``AsyncConnection.run_sync``).
_connection_here: ContextVar[Connection | None] = ContextVar("fastreg_connection", default=None)


# A read to send with the first round trip of those units of work (``PreparedConnection.ride_along``).
_ride_here: ContextVar[RideAlong | None] = ContextVar("fastreg_ride_along", default=None)


def run_on_connection(connection: Connection, call: Callable[[], T], ride: RideAlong | None = None) -> T:
    """Run ``call`` with every unit of work it opens (one after the other) on ``connection``, which stays open;
    ``ride`` goes with the first round trip any of them makes."""
    token, ride_token = _connection_here.set(connection), _ride_here.set(ride)
    try:
        return call()
    finally:
        _ride_here.reset(ride_token)
        _connection_here.reset(token)


class UnitOfWork:
    def __init__(
        self,
        engine: Engine,
        factory: sessionmaker[Session],
        clocks: ClockSource,
        *,
        readonly: bool = False,
        write_lock: AbstractContextManager[Any] | None = None,
        secret_key: str = "",
        wake_worker: Callable[[], None] | None = None,
    ) -> None:
        # What the repositories need of the process: the key that seals queued mail at rest, and the call that
        # wakes this process's worker once a push or a mail is committed.
        self.secret_key = secret_key
        self.wake_worker = wake_worker
        self._after_commit: list[Callable[[], None]] = []
        # SQLite: threads of one process queue here for the single write lock, instead of polling for it in
        # SQLite's busy handler (which sleeps in steps of up to 100 ms and wrecks throughput under load).
        self._write_lock = None if readonly else write_lock
        self._engine = engine
        self._factory = factory
        self._clocks = clocks
        self._readonly = readonly
        self._connection: Connection
        self._session: Session | None = None
        self._outer: UnitOfWork | None = None  # inside a group: the group's unit of work
        self._savepoint = ""
        self._savepoints = 0
        self._committed = False
        self._lent = False  # the connection is the runner's: left open (rolled back if not committed)
        self._opened: Token[UnitOfWork | None] | None = None
        self.conn: PreparedConnection  # the prepared statements' runner, in this transaction
        self.clock: Clock
        # The repositories of ``services/ports``, each working in this unit of work's transaction.
        self.accounts = SqlAccountRepository(self)
        self.audit = SqlAuditLog(self)
        self.sessions = SqlSessionRepository(self)
        self.wechat_users = SqlWechatUserRepository(self)
        self.registrations = SqlRegistrationRepository(self)
        self.confirmations = SqlConfirmationRepository(self)
        self.counters = SqlCounterRepository(self)
        self.credentials = SqlCredentialRepository(self)
        self.fastregister = SqlFastRegisterGateway(self)
        self.components = SqlComponentRepository(self)
        self.authorizations = SqlAuthorizationRepository(self)
        self.links = SqlLinkRepository(self)
        self.verification_tasks = SqlVerificationTaskRepository(self)
        self.pushes = SqlPushQueue(self)
        self.mail = SqlMailOutbox(self)
        self.sandbox_state = SqlSandboxStateRepository(self)

    def __enter__(self) -> UnitOfWork:
        open_here, group = _open.get(), _group.get()
        if open_here is not None and open_here is not group:
            raise NestedUnitOfWork(
                "a unit of work was opened inside another one; run the use cases one after the other, or pass "
                "the open unit of work down"
            )
        self._opened = _open.set(self)
        if group is not None:
            try:
                return self._enter_group(group)
            except BaseException:
                _open.reset(self._opened)
                self._opened = None
                raise
        lent = _connection_here.get()
        if self._write_lock is not None:
            self._write_lock.__enter__()
        try:
            if lent is not None:
                self._connection, self._lent = lent, True
            else:
                self._connection = self._engine.connect()  # set at once, so that a failure below still closes it
            if self._readonly or self._lent:
                self._connection = self._connection.execution_options(readonly=self._readonly)
            # Begin now: on SQLite a write transaction takes the write lock here (BEGIN IMMEDIATE).
            self._connection.begin()
            self.conn = PreparedConnection(self._connection, announce_to=self._engine if self._lent else None)
            ride = _ride_here.get() if self._lent else None
            if ride is not None and not ride.taken:
                self.conn.ride_along(ride)
            self.clock = _ClockOnFirstUse(self._clocks, self.conn)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _enter_group(self, outer: UnitOfWork) -> UnitOfWork:
        """Join the group's transaction in a savepoint (the group already holds the write lock)."""
        self._outer = outer
        self._write_lock = None
        self._connection, self.conn, self.clock = outer._connection, outer.conn, outer.clock
        outer._savepoints += 1
        self._savepoint = f"uow_{outer._savepoints}"
        self.conn.execute_driver(f"SAVEPOINT {self._savepoint}")
        return self

    @property
    def session(self) -> Session:
        """The ORM session, made on first use (the hot paths run prepared statements only), inside this unit of
        work's transaction: it flushes at ``commit`` but the commit itself is the connection's."""
        self.conn.send_queued()  # the session's statements come after the deferred writes, and see them
        if self._session is None:
            # In a group the session keeps to a savepoint of its own: a failed flush makes SQLAlchemy roll the
            # session back, and that must not take the rest of the group's transaction with it.
            mode = "create_savepoint" if self._outer is not None else "rollback_only"
            self._session = self._factory(bind=self._connection, join_transaction_mode=mode)
            self._session.info["unit_of_work"] = self  # for code given the session only (``on_commit``)
        return self._session

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed, without expiring the loaded objects.
        try:
            if self._session is not None:
                self._session.info.pop("unit_of_work", None)  # no reference cycle left for the collector
                self._session.close()
        finally:
            try:
                if self._outer is not None:
                    self._leave_group()
                else:
                    self._close()
            finally:
                if self._opened is not None:
                    _open.reset(self._opened)
                    self._opened = None

    def _leave_group(self) -> None:
        if not self._committed:
            self.conn.execute_driver(f"ROLLBACK TO SAVEPOINT {self._savepoint}")
            self.conn.execute_driver(f"RELEASE SAVEPOINT {self._savepoint}")

    def _close(self) -> None:
        try:
            conn = getattr(self, "conn", None)
            if conn is not None:
                conn.discard()  # deferred writes of a transaction not committed are never sent
            connection = getattr(self, "_connection", None)
            if connection is not None and self._lent:
                if connection.in_transaction():
                    connection.rollback()
            elif connection is not None:
                connection.close()
        finally:
            if self._write_lock is not None:
                self._write_lock.__exit__(None, None, None)

    def commit(self) -> None:
        if self._session is not None:
            self.conn.send_queued()  # the deferred writes first, in the order they were made
            self._session.commit()  # flushes; the session does not own the transaction
        if self._outer is not None:
            self.conn.execute_driver(f"RELEASE SAVEPOINT {self._savepoint}")
            self._committed = True
            self._outer._after_commit.extend(self._after_commit)  # run once the group has committed
            self._after_commit = []
            return
        self.conn.commit()  # PostgreSQL: COMMIT through the prepared statements' lean path
        self._connection.commit()  # SQLAlchemy's bookkeeping (and SQLite's COMMIT)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never when it rolls back)."""
        self._after_commit.append(callback)


Outcome = tuple[Any, Exception | None]


def run_grouped(group: UnitOfWork, calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Run ``calls`` (use cases that open their own units of work) one after the other in ``group``'s
    transaction and commit it once; returns each call's result or the exception it raised. A failed commit
    raises, and then none of the calls' work was kept."""
    outcomes: list[Outcome] = []
    with group:
        token = _group.set(group)
        try:
            for call in calls:
                try:
                    outcomes.append((call(), None))
                except Exception as error:  # that call's savepoint is rolled back; the others stand
                    outcomes.append((None, error))
        finally:
            _group.reset(token)
        group.commit()
    return outcomes


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
