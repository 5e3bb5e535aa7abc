"""The unit of work: one session, one transaction, committed once by the service that owns it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine
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
        self._factory = factory
        self._clocks = clocks
        self._readonly = readonly
        self.session: Session
        self.conn: PreparedConnection  # the prepared statements' runner, in this transaction
        self.clock: Clock

    def __enter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            self._write_lock.__enter__()
        self.session = self._factory()
        # Begin now: on SQLite a write transaction takes the write lock here (BEGIN IMMEDIATE).
        self.conn = PreparedConnection(
            self.session.connection(execution_options={"readonly": True} if self._readonly else None)
        )
        self.clock = self._clocks.resolve(self.conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed, without expiring the loaded objects.
        try:
            self.session.close()
        finally:
            if self._write_lock is not None:
                self._write_lock.__exit__(None, None, None)

    def commit(self) -> None:
        self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never when it rolls back)."""
        self._after_commit.append(callback)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
