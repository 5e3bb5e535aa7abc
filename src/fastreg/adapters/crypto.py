"""Secrets and identifiers: random generation (>= 128 bits), hashing for storage, passwords (argon2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# SANDBOX ONLY: argon2's cheapest parameters, for the console passwords of accounts a test creates through the
# sandbox API (milliseconds instead of most of a second per account on a busy machine). Never for production
# or for accounts people create in the console. A hash carries its parameters, so verifying needs no flag.
_SANDBOX_ONLY_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def new_token(nbytes: int = 24) -> str:
    """An opaque bearer secret: 192 bits by default, URL-safe.

    Never starts with "-", so that it can be passed as a command-line argument
    (`fastreg confirm ID`) without being taken for an option.
    """
    while True:
        token = secrets.token_urlsafe(nbytes)
        if not token.startswith("-"):
            return token


def token_hash(token: str) -> str:
    """How every bearer secret is stored: only its SHA-256 digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def derived_token(secret_key: str, purpose: str, seed: str) -> str:
    """A bearer secret computed from a stored random seed and the platform's secret key (HMAC-SHA256, 256
    bits, URL-safe): the database alone never shows it, yet it can be shown again to its holder."""
    digest = hmac.new(secret_key.encode(), f"{purpose}:{seed}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_appid() -> str:
    return "wx" + secrets.token_hex(8)


def new_original_id() -> str:
    return "gh_" + secrets.token_hex(6)


def new_secret() -> str:
    return secrets.token_hex(16)


def new_wxid() -> str:
    return "wxid_" + secrets.token_hex(7)


_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_encoding_aes_key() -> str:
    """43 characters from the base64 alphabet, as WeChat's EncodingAESKey."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(43))


def derived_alphanumeric(secret_key: str, purpose: str, length: int) -> str:
    """``length`` letters and digits computed from the platform's secret key (HMAC-SHA256 in counter mode): the
    same on every call with the same key, e.g. the demo component's token and EncodingAESKey."""
    stream = b"".join(
        hmac.new(secret_key.encode(), f"{purpose}:{block}".encode(), hashlib.sha256).digest()
        for block in range(length // 32 + 1)
    )
    return "".join(_ALPHANUMERIC[byte % len(_ALPHANUMERIC)] for byte in stream[:length])


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


def secrets_equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())
