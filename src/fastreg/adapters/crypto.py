"""Password hashing (argon2id), the ``services.ports.PasswordHasher`` of the application; the other secrets and
identifiers are in ``fastreg.domain.secrets``."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# SANDBOX ONLY: argon2's cheapest parameters, for the console passwords of accounts a test creates through the
# sandbox API (milliseconds instead of most of a second per account on a busy machine). Never for production
# or for accounts people create in the console. A hash carries its parameters, so verifying needs no flag.
_SANDBOX_ONLY_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def hash_password(password: str, *, sandbox_only_cheap: bool = False) -> str:
    """argon2id with the library's strong defaults; ``sandbox_only_cheap`` for sandbox-created test accounts."""
    return (_SANDBOX_ONLY_CHEAP_HASHER if sandbox_only_cheap else _hasher).hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Argon2Passwords:
    """``services.ports.PasswordHasher``: argon2id, strong unless a sandbox-created account asks otherwise."""

    def hash(self, password: str, *, sandbox_only_cheap: bool = False) -> str:
        return hash_password(password, sandbox_only_cheap=sandbox_only_cheap)

    def verify(self, password_hash: str | None, password: str) -> bool:
        return verify_password(password_hash, password)
