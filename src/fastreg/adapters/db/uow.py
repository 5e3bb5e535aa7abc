"""The unit of work: one session, one transaction, committed once by the service that owns it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from fastreg.adapters.db.clock import load_clock
from fastreg.adapters.db.prepared import PreparedConnection
from fastreg.domain.clock import Clock


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


class UnitOfWork:
    def __init__(
        self,
        engine: Engine,
        factory: sessionmaker[Session],
        clocks: ClockSource,
        *,
        readonly: bool = False,
        platform: Any = None,
        write_lock: AbstractContextManager[Any] | None = None,
    ) -> None:
        # The platform this unit of work belongs to, for confirmation handlers that need settings.
        self.platform = platform
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
        self.conn: PreparedConnection  # the prepared statements' runner, in this transaction
        self.clock: Clock

    def __enter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            self._write_lock.__enter__()
        try:
            connection = self._engine.connect()
            if self._readonly:
                connection = connection.execution_options(readonly=True)
            # Begin now: on SQLite a write transaction takes the write lock here (BEGIN IMMEDIATE).
            connection.begin()
            self._connection = connection
            self.conn = PreparedConnection(connection)
            self.clock = self._clocks.resolve(self.conn)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def session(self) -> Session:
        """The ORM session, made on first use (the hot paths run prepared statements only), inside this unit of
        work's transaction: it flushes at ``commit`` but the commit itself is the connection's."""
        if self._session is None:
            self._session = self._factory(bind=self._connection, join_transaction_mode="rollback_only")
        return self._session

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed, without expiring the loaded objects.
        try:
            if self._session is not None:
                self._session.close()
        finally:
            try:
                connection = getattr(self, "_connection", None)
                if connection is not None:
                    connection.close()
            finally:
                if self._write_lock is not None:
                    self._write_lock.__exit__(None, None, None)

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()  # flushes; the session does not own the transaction
        self._connection.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never when it rolls back)."""
        self._after_commit.append(callback)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
