"""A fake context for the accounts area's service tests, whose password hasher notes every argon2 call made
while a unit of work is open (argon2 belongs before or after the transaction, never inside it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastreg.domain.clock import FixedClock
from tests.fakes import CheapPasswords, FakeContext

START = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)


class WatchedPasswords(CheapPasswords):
    def __init__(self, context: FakeContext) -> None:
        super().__init__()
        self._context = context
        self.inside_transaction: list[str] = []  # the calls made while a unit of work was open
        self.cheap_asked: list[bool] = []
        # Runs after each verify: what concurrent requests do while this one checks its password.
        self.meanwhile: Callable[[], None] | None = None

    def _note(self, call: str) -> None:
        if self._context.open_uow is not None:
            self.inside_transaction.append(call)

    def hash(self, password: str, *, sandbox_only_cheap: bool = False) -> str:
        self._note("hash")
        self.cheap_asked.append(sandbox_only_cheap)
        return super().hash(password, sandbox_only_cheap=sandbox_only_cheap)

    def verify(self, password_hash: str | None, password: str) -> bool:
        self._note("verify")
        verified = super().verify(password_hash, password)
        if self.meanwhile is not None:
            self.meanwhile()
        return verified


def fake_context(mode: str = "sandbox") -> tuple[FakeContext, WatchedPasswords]:
    context = FakeContext(clock=FixedClock(START))
    context.settings = context.settings.model_copy(update={"mode": mode, "public_url": "http://testserver"})
    passwords = WatchedPasswords(context)
    context._passwords = passwords
    return context, passwords
