"""Secrets and identifiers: random generation (>= 128 bits), digests for storage, derivation from the platform's
secret key. Standard library only; password hashing is a port (``services.ports.PasswordHasher``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


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


def secrets_equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())
