"""What the services need from the world, owned by the service layer: the unit of work with its repositories
(which speak the domain's entities), the platform's context (settings, limits, secrets, mail, observer) and
password hashing. The database adapter (``adapters/db``) and the test fakes (``tests/fakes``) implement them;
no service imports SQLAlchemy, psycopg or ``fastreg.adapters``."""

from __future__ import annotations

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
from fastreg.services.ports.worker import MailOutbox, PushQueue, SandboxStateRepository
from fastreg.settings import Settings


class UnitOfWork(Protocol):
    """One transaction. ``commit`` once at the end of a use case; leaving without it rolls everything back.
    Opening a unit of work while one is open in the same context raises. (Members are read-only properties, so
    that an implementation's more specific types satisfy them.)"""

    @property
    def clock(self) -> Clock: ...

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def wechat_users(self) -> WechatUserRepository: ...

    @property
    def registrations(self) -> RegistrationRepository: ...

    @property
    def confirmations(self) -> ConfirmationRepository: ...

    @property
    def counters(self) -> CounterRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def fastregister(self) -> FastRegisterGateway: ...

    @property
    def components(self) -> ComponentRepository: ...

    @property
    def authorizations(self) -> AuthorizationRepository: ...

    @property
    def links(self) -> LinkRepository: ...

    @property
    def verification_tasks(self) -> VerificationTaskRepository: ...

    @property
    def pushes(self) -> PushQueue: ...

    @property
    def mail(self) -> MailOutbox: ...

    @property
    def sandbox_state(self) -> SandboxStateRepository: ...

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


class Context(Protocol):
    """The platform as the services see it (``fastreg.platform.Platform`` in the application)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def secret_key(self) -> str: ...

    @property
    def mailer(self) -> Mailer | None: ...

    @property
    def observer(self) -> Observer: ...

    @property
    def push_queued(self) -> Wakeup: ...

    def uow(self, *, readonly: bool = False) -> UnitOfWork: ...

    @property
    def limits(self) -> QuotaLimits: ...

    @property
    def passwords(self) -> PasswordHasher: ...

    def url(self, path: str) -> str: ...
