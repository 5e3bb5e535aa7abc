"""A fake unit of work with in-memory repositories (``services/ports``), and a fake platform context, so that
the service tests run without a database. Database behaviour is proven once, against the SQL repositories, in
``tests/db`` on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from fastreg.adapters.mail.render import JinjaMailTemplates
from fastreg.adapters.wechat_crypto import WechatPushSealer
from fastreg.domain.clock import Clock
from fastreg.domain.rules import QuotaLimits
from fastreg.settings import Settings
from tests.fakes.accounts import FakeAccountRepository, FakeAuditLog, FakeSessionRepository, FakeWechatUserRepository
from tests.fakes.components import (
    FakeAuthorizationRepository,
    FakeComponentRepository,
    FakeLinkRepository,
    FakeVerificationTaskRepository,
)
from tests.fakes.credentials import FakeCredentialRepository, FakeFastRegisterGateway
from tests.fakes.registrations import FakeConfirmationRepository, FakeCounterRepository, FakeRegistrationRepository
from tests.fakes.store import FakeStore
from tests.fakes.worker import FakeMailOutbox, FakePushQueue, FakeSandboxStateRepository


class NestedUnitOfWork(RuntimeError):
    pass


class FakeUnitOfWork:
    def __init__(self, store: FakeStore, clock: Clock, context: FakeContext) -> None:
        self._store, self.clock, self._context = store, clock, context
        self._restore: Callable[[], None] | None = None
        self._after_commit: list[Callable[[], None]] = []
        self.commits = 0
        self.accounts = FakeAccountRepository(store)
        self.audit = FakeAuditLog(store)
        self.sessions = FakeSessionRepository(store)
        self.wechat_users = FakeWechatUserRepository(store)
        self.registrations = FakeRegistrationRepository(store)
        self.confirmations = FakeConfirmationRepository(store)
        self.counters = FakeCounterRepository(store)
        self.credentials = FakeCredentialRepository(store)
        self.fastregister = FakeFastRegisterGateway(store)
        self.components = FakeComponentRepository(store)
        self.authorizations = FakeAuthorizationRepository(store)
        self.links = FakeLinkRepository(store)
        self.verification_tasks = FakeVerificationTaskRepository(store)
        # As the SQL queues do: once the transaction commits, the worker is woken.
        self.pushes = FakePushQueue(store, wake=lambda: self.on_commit(context.push_queued.notify))
        self.mail = FakeMailOutbox(store, wake=lambda: self.on_commit(context.push_queued.notify))
        self.sandbox_state = FakeSandboxStateRepository(store)

    def __enter__(self) -> Self:
        if self._context.open_uow is not None:
            raise NestedUnitOfWork("a unit of work is already open")
        self._context.open_uow = self
        self._restore = self._store.snapshot()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._context.open_uow = None
        if self._restore is not None:  # not committed: roll back
            self._restore()
            self._restore = None

    def commit(self) -> None:
        self._restore = None
        self.commits += 1
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)


class CheapPasswords:
    """Real argon2 at its cheapest parameters: the service tests check hashes, not their strength."""

    def __init__(self) -> None:
        from argon2 import PasswordHasher

        self._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

    def hash(self, password: str, *, sandbox_only_cheap: bool = False) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        if not password_hash:
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class SentMail:
    """The SMTP mailer. Reading ``sent`` first runs the worker's mail pass (``flush``), as a reader of the real
    outbox would wait for the worker."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str, str, str]] = []
        self.flush: Callable[[], object] = lambda: None

    def send(self, to: str, subject: str, text: str, html: str) -> None:
        self.delivered.append((to, subject, text, html))

    @property
    def sent(self) -> list[tuple[str, str, str, str]]:
        self.flush()
        return self.delivered


class CountingObserver:
    def __init__(self) -> None:
        self.registrations: list[tuple[str, int]] = []
        self.push_failures = 0

    def record_registration(self, outcome: str, errcode: int = 0) -> None:
        self.registrations.append((outcome, errcode))

    def record_push_failure(self) -> None:
        self.push_failures += 1


class Wakeups:
    def __init__(self) -> None:
        self.count = 0

    def notify(self) -> None:
        self.count += 1

    def bind(self) -> asyncio.Event:
        return asyncio.Event()


@dataclass
class FakeContext:
    """The platform context of ``services/ports`` on a ``FakeStore``."""

    clock: Clock
    settings: Settings = field(default_factory=lambda: Settings(mode="sandbox", secret_key="fake-secret-key"))
    secret_key: str = "fake-secret-key"
    mailer: SentMail = field(default_factory=SentMail)
    observer: CountingObserver = field(default_factory=CountingObserver)
    push_queued: Wakeups = field(default_factory=Wakeups)
    mail_templates: JinjaMailTemplates = field(default_factory=JinjaMailTemplates)
    push_sealer: WechatPushSealer = field(default_factory=WechatPushSealer)
    store: FakeStore = field(default_factory=FakeStore)
    open_uow: Any = None
    _passwords: CheapPasswords = field(default_factory=CheapPasswords)

    def __post_init__(self) -> None:
        from fastreg.services.pushes import send_due_mail

        self.mailer.flush = lambda: send_due_mail(self)

    def uow(self, *, readonly: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.clock, self)

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
    def passwords(self) -> CheapPasswords:
        return self._passwords

    def url(self, path: str) -> str:
        return self.settings.public_url.rstrip("/") + path

    @property
    def sandbox_clock_over(self) -> Clock | None:
        return None

    def flush_mail(self) -> None:
        pass

    def wipe(self) -> None:
        self.store = FakeStore()
