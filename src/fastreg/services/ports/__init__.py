"""What the services need from the world, owned by the service layer: the unit of work with its repositories
(which speak the domain's entities), the platform's context (settings, limits, secrets, mail, observer) and
password hashing. The database adapter (``adapters/db``) and the test fakes (``tests/fakes``) implement them;
no service imports SQLAlchemy, psycopg or ``fastreg.adapters``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from fastreg.domain.clock import Clock
from fastreg.domain.rules import QuotaLimits
from fastreg.services.ports.accounts import AccountRepository, AuditLog, SessionRepository, WechatUserRepository
from fastreg.services.ports.components import (
    AuthorizationRepository,
    ComponentRepository,
    LinkRepository,
    VerificationTaskRepository,
)
from fastreg.services.ports.credentials import CredentialRepository, FastRegisterGateway
from fastreg.services.ports.registrations import ConfirmationRepository, CounterRepository, RegistrationRepository
from fastreg.services.ports.worker import MailOutbox, MailTemplates, PushQueue, PushSealer, SandboxStateRepository
from fastreg.settings import Settings


class UnitOfWork(Protocol):
    """One transaction. ``commit`` once at the end of a use case; leaving without it rolls everything back.
    Opening a unit of work while one is open in the same context raises."""

    clock: Clock
    accounts: AccountRepository
    audit: AuditLog
    sessions: SessionRepository
    wechat_users: WechatUserRepository
    registrations: RegistrationRepository
    confirmations: ConfirmationRepository
    counters: CounterRepository
    credentials: CredentialRepository
    fastregister: FastRegisterGateway
    components: ComponentRepository
    authorizations: AuthorizationRepository
    links: LinkRepository
    verification_tasks: VerificationTaskRepository
    pushes: PushQueue
    mail: MailOutbox
    sandbox_state: SandboxStateRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def commit(self) -> None: ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never when it rolls back)."""
        ...


class PasswordHasher(Protocol):
    """argon2 in production; the fakes' and the sandbox's cheap parameters where marked."""

    def hash(self, password: str, *, sandbox_only_cheap: bool = False) -> str: ...

    def verify(self, password_hash: str | None, password: str) -> bool: ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> None: ...


class Observer(Protocol):
    """Where services report outcomes worth counting (the web adapter plugs its Prometheus metrics in)."""

    def record_registration(self, outcome: str, errcode: int = 0) -> None: ...

    def record_push_failure(self) -> None: ...


class Wakeup(Protocol):
    def notify(self) -> None: ...

    def bind(self) -> asyncio.Event:
        """The event ``notify`` sets, on the running loop (the worker waits on it)."""
        ...


class Context(Protocol):
    """The platform as the services see it (``fastreg.platform.Platform`` in the application)."""

    settings: Settings
    secret_key: str
    mailer: Mailer | None
    observer: Observer
    push_queued: Wakeup
    mail_templates: MailTemplates
    push_sealer: PushSealer

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...

    @property
    def limits(self) -> QuotaLimits: ...

    @property
    def passwords(self) -> PasswordHasher: ...

    def url(self, path: str) -> str: ...
