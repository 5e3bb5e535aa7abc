"""WeChat message encryption for component pushes ("消息加解密"), byte-compatible with WeChat:

- key: the component's 43-character EncodingAESKey + "=" base64-decoded (32 bytes, AES-256); IV = key[:16];
- plaintext: 16 random bytes + 4-byte big-endian length + the XML message + the component appid,
  padded with PKCS#7 to a multiple of 32 bytes, AES-256-CBC encrypted, base64 encoded;
- ``msg_signature``: SHA1 of the sorted concatenation of token, timestamp, nonce and the encrypted text;
- ``signature``: the plain-mode URL signature, SHA1 of the sorted token, timestamp and nonce. WeChat sends it
  with every push, and receivers rely on it: silenceper/wechat validates it before anything else, EasyWeChat
  4/5 and PowerWeChat decrypt only when it is present.

``wechatpy``'s ``WeChatComponent.parse_message`` decrypts what :func:`encrypt_push` produces, unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
from dataclasses import dataclass
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from fastreg.domain.entities import Component
from fastreg.services.ports.worker import SealedPush

BLOCK = 32


class WeChatCryptoError(ValueError):
    """A message that does not decrypt or whose signature or appid does not match."""


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise WeChatCryptoError("EncodingAESKey must decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    count = block - len(data) % block
    return data + bytes([count]) * count


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    if not data:
        raise WeChatCryptoError("empty plaintext")
    count = data[-1]
    if count < 1 or count > block or data[-count:] != bytes([count]) * count:
        raise WeChatCryptoError("bad padding")
    return data[:-count]


def signature(token: str, timestamp: str, nonce: str, *more: str) -> str:
    """SHA1 (hex) of the sorted, concatenated parts: ``signature`` with three, ``msg_signature`` with the
    encrypted text as a fourth."""
    parts = sorted([token, timestamp, nonce, *more])
    return hashlib.sha1("".join(parts).encode()).hexdigest()


def encrypt(encoding_aes_key: str, appid: str, message: str, *, random_prefix: bytes | None = None) -> str:
    key = aes_key(encoding_aes_key)
    body = message.encode()
    prefix = random_prefix if random_prefix is not None else secrets.token_bytes(16)
    plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + appid.encode())
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, appid: str, encrypted: str) -> str:
    key = aes_key(encoding_aes_key)
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except ValueError as exc:
        raise WeChatCryptoError("not base64") from exc
    if not raw or len(raw) % 16:
        raise WeChatCryptoError("bad ciphertext length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
    if len(plain) < 20:
        raise WeChatCryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    message, from_appid = plain[20 : 20 + length], plain[20 + length :]
    if len(message) != length or from_appid.decode(errors="replace") != appid:
        raise WeChatCryptoError("appid mismatch")
    return message.decode()


@dataclass(frozen=True)
class EncryptedPush:
    """What WeChat POSTs to a component's callback URL: query parameters and an XML body."""

    body: str
    timestamp: str
    nonce: str
    msg_signature: str
    signature: str = ""

    @property
    def params(self) -> dict[str, str]:
        """The query string, in WeChat's order."""
        return {
            "signature": self.signature,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "encrypt_type": "aes",
            "msg_signature": self.msg_signature,
        }


def encrypt_push(
    *, token: str, encoding_aes_key: str, appid: str, message: str, timestamp: int, nonce: str | None = None
) -> EncryptedPush:
    nonce = nonce or str(secrets.randbelow(10**10))
    encrypted = encrypt(encoding_aes_key, appid, message)
    ts = str(timestamp)
    body = f"<xml>\n<AppId><![CDATA[{appid}]]></AppId>\n<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>"
    return EncryptedPush(body, ts, nonce, signature(token, ts, nonce, encrypted), signature(token, ts, nonce))


def decrypt_push(*, token: str, encoding_aes_key: str, appid: str, push: EncryptedPush) -> str:
    """The inverse of :func:`encrypt_push` (checks the signature first)."""
    start, end = push.body.find("<Encrypt><![CDATA["), push.body.find("]]></Encrypt>")
    if start < 0 or end < 0:
        raise WeChatCryptoError("no Encrypt element")
    encrypted = push.body[start + len("<Encrypt><![CDATA[") : end]
    if not secrets.compare_digest(signature(token, push.timestamp, push.nonce, encrypted), push.msg_signature):
        raise WeChatCryptoError("bad signature")
    return decrypt(encoding_aes_key, appid, encrypted)


def xml_message(fields: dict[str, object]) -> str:
    """A flat (one level of nesting allowed) WeChat XML message; strings in CDATA, numbers bare."""
    return "<xml>" + "".join(_element(name, value) for name, value in fields.items()) + "</xml>"


def _element(name: str, value: object) -> str:
    if isinstance(value, dict):
        inner = "".join(_element(k, v) for k, v in value.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(value, bool):
        return f"<{name}>{int(value)}</{name}>"
    if isinstance(value, int):
        return f"<{name}>{value}</{name}>"
    text = str(value)
    if "]]>" in text:
        return f"<{name}>{escape(text)}</{name}>"
    return f"<{name}><![CDATA[{text}]]></{name}>"


class WechatPushSealer:
    """``services/ports.PushSealer``: a component push encrypted and signed with the component's keys."""

    def seal(self, component: Component, message: dict[str, object], timestamp: int) -> SealedPush:
        push = encrypt_push(
            token=component.token,
            encoding_aes_key=component.encoding_aes_key,
            appid=component.appid,
            message=xml_message(message),
            timestamp=timestamp,
        )
        return SealedPush(push.params, push.body)
