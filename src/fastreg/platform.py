"""The composition root: settings in, the wired platform out (engine, units of work, clock, mail)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fastreg.adapters.crypto import Argon2Passwords
from fastreg.adapters.db.engine import build_engine
from fastreg.adapters.db.uow import ClockSource, FixedClockSource, SandboxClockSource, UnitOfWork, session_factory
from fastreg.adapters.mail.render import JinjaMailTemplates
from fastreg.adapters.wechat_crypto import WechatPushSealer
from fastreg.domain.clock import Clock, SystemClock
from fastreg.domain.rules import QuotaLimits
from fastreg.settings import Settings


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> None: ...


class Observer(Protocol):
    """Where services report outcomes worth counting (the web adapter plugs its Prometheus metrics in)."""

    def record_registration(self, outcome: str, errcode: int = 0) -> None: ...

    def record_push_failure(self) -> None: ...


class NullObserver:
    def record_registration(self, outcome: str, errcode: int = 0) -> None:
        pass

    def record_push_failure(self) -> None:
        pass


class Wakeup:
    """Wakes a coroutine that waits on an event loop, from any thread: an in-process notify. The waiter binds it
    on its loop; a notify before that, from another process's platform, or after the loop closed does nothing
    (the waiter polls as well)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self) -> asyncio.Event:
        """The event that ``notify`` sets, on the running loop."""
        self._event, self._loop = asyncio.Event(), asyncio.get_running_loop()
        return self._event

    def notify(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed
            loop.call_soon_threadsafe(event.set)


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clocks: ClockSource
    mailer: Mailer | None = None
    observer: Observer = field(default_factory=NullObserver)
    # One writer at a time per process on SQLite (see UnitOfWork); None on PostgreSQL.
    write_lock: threading.RLock | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Set once a component push is committed to the queue: the push worker delivers it at once.
    push_queued: Wakeup = field(default_factory=Wakeup)
    # The words of the mails (templates and catalogues) and the encryption of component pushes.
    mail_templates: JinjaMailTemplates = field(default_factory=JinjaMailTemplates)
    push_sealer: WechatPushSealer = field(default_factory=WechatPushSealer)

    def uow(self, *, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(
            self.engine,
            self.sessions,
            self.clocks,
            readonly=readonly,
            write_lock=self.write_lock,
            secret_key=self.secret_key,
            wake_worker=self.push_queued.notify,
        )

    @property
    def limits(self) -> QuotaLimits:
        s = self.settings
        return QuotaLimits(
            monthly=s.monthly_quota,
            individual_business_monthly=s.individual_monthly_quota,
            principal_mps=s.principal_mp_limit,
            links_monthly=s.link_monthly_limit,
        )

    @property
    def passwords(self) -> Argon2Passwords:
        return _PASSWORDS

    def url(self, path: str) -> str:
        return self.settings.public_url.rstrip("/") + path

    @property
    def sandbox_clock_over(self) -> Clock | None:
        """The real clock under the sandbox's settable one, or None when the platform runs on a fixed clock."""
        return self.clocks.real if isinstance(self.clocks, SandboxClockSource) else None

    def flush_mail(self) -> None:
        """Wait until the mail this process's SMTP sink received is stored."""
        from fastreg.adapters.mail import flush_deliveries

        flush_deliveries()

    def start_checkpointer(self) -> Callable[[], None]:
        """The background WAL checkpoints of a file SQLite database; returns the stopper (a no-op elsewhere)."""
        from fastreg.adapters.db.checkpoint import start_checkpointer

        return start_checkpointer(self.engine)

    def probe_write(self) -> None:
        """Readiness: write a row in a unit of work that is never committed; raises when the database cannot."""
        from fastreg.adapters.db.maintenance import probe_write

        with self.uow() as uow:
            probe_write(uow.session)  # never committed

    def wipe(self) -> None:
        """Empty every table with no other transaction in the database meanwhile (the sandbox reset)."""
        from fastreg.adapters.db import maintenance
        from fastreg.services.ports.worker import DatabaseBusy

        try:
            maintenance.wipe_alone(self.sessions)
        except maintenance.DatabaseBusy as busy:
            raise DatabaseBusy(str(busy)) from None


_PASSWORDS = Argon2Passwords()


def build_platform(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Platform:
    """``clock`` overrides the clock (tests); otherwise the sandbox keeps its clock in the database."""
    engine = engine or build_engine(settings.database_url)
    clocks: ClockSource
    if clock is not None:
        clocks = FixedClockSource(clock)
    elif settings.is_sandbox:
        clocks = SandboxClockSource(SystemClock())
    else:
        clocks = FixedClockSource(SystemClock())
    return Platform(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        clocks=clocks,
        write_lock=threading.RLock() if engine.dialect.name == "sqlite" else None,
        secret_key=settings.secret_key or persistent_secret(settings.data_dir, "secret_key"),
    )


SECRET_FILE_MODE = 0o600


def persistent_secret(data_dir: Path, name: str) -> str:
    """A random secret generated at first start and kept in the data directory (so workers share it), in a
    file only its owner can read or write (0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        value = secrets.token_urlsafe(32)
        handle.write(value)
        return value


def sandbox_key(settings: Settings) -> str:
    """``FASTREG_SANDBOX_KEY``, or a random key generated at first start and kept in the data directory."""
    if settings.sandbox_key:
        return settings.sandbox_key
    for _ in range(100):
        key = persistent_secret(settings.data_dir, "sandbox_key")
        if key:
            return key
        time.sleep(0.01)  # another process created the file a moment ago and is writing the key
    raise RuntimeError(f"empty sandbox key file in {settings.data_dir}")
