"""The calls of the sandbox control API (``/sandbox/v1``), whatever carries them, and a client on the standard
library alone.

:class:`SandboxCalls` names each call once; a client supplies ``_call``. :class:`SandboxClient`
(:mod:`fastreg.sandbox_client`, on httpx) is the pytest plugin's; :class:`UrllibSandboxClient` is
``fastreg sandbox ...``'s, which must start quickly: importing httpx costs more than the rest of a command.
"""

from __future__ import annotations

import json
from typing import Any


class SandboxRefusal(Exception):
    """A refusal of the sandbox API: its HTTP ``status``, and the ``code`` and ``message`` of the server's
    ``{"error": {"code", "message"}}`` answer."""

    status: int
    code: str
    message: str

    def read(self, status: int, body: bytes | str) -> str:
        """Take the status and the error of the answer's ``body``; returns ``"STATUS CODE: MESSAGE"``."""
        try:
            error = json.loads(body)["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            code, message = "http_error", text[:500]
        self.status, self.code, self.message = status, code, message
        return f"{status} {code}: {message}"

    @classmethod
    def of(cls, status: int, body: bytes, request: str) -> SandboxRefusal:
        refusal = cls()
        refusal.args = (f"{request}: {refusal.read(status, body)}",)
        return refusal


KEY_HEADER = "X-Sandbox-Key"


def call_parts(
    api: str, key: str, path: str, *, payload: Any = None, params: dict[str, Any] | None = None
) -> tuple[str, dict[str, str], bytes | None]:
    """The URL, headers and body of a sandbox call (``api``: the server's ``…/sandbox/v1``), whatever sends it."""
    from urllib.parse import urlencode

    url = f"{api}{path}" + (f"?{urlencode(params)}" if params else "")
    headers = {KEY_HEADER: key, "Accept": "application/json"}
    body = None
    if payload is not None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json"
    return url, headers, body


class SandboxUnreachable(Exception):
    """No answer from the server (refused connection, timeout, a broken HTTP answer)."""


class SandboxCalls:
    """The sandbox API's calls; a refusal raises :class:`SandboxRefusal` (and a subclass of it on httpx)."""

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def reset(self) -> Any:
        return self._call("POST", "/reset")

    def create_official_account(self, **fields: Any) -> Any:
        return self._call("POST", "/official-accounts", json=fields)

    def official_account(self, appid: str) -> Any:
        return self._call("GET", f"/official-accounts/{appid}")

    def create_component(self, **fields: Any) -> Any:
        return self._call("POST", "/components", json=fields)

    def authorize(self, component_appid: str, authorizer_appid: str) -> Any:
        return self._call(
            "POST", f"/components/{component_appid}/authorizations", json={"authorizer_appid": authorizer_appid}
        )

    def confirmations(self, wxid: str, status: str = "pending") -> Any:
        return self._call("GET", "/confirmations", params={"wxid": wxid, "status": status})

    def scan(self, url: str, wxid: str, action: str = "confirm") -> Any:
        return self._call("POST", "/scans", json={"url": url, "wxid": wxid, "action": action})

    def mail(self, to: str | None = None) -> Any:
        return self._call("GET", "/mail", params={"to": to} if to else None)

    def get_clock(self) -> Any:
        return self._call("GET", "/clock")

    def set_clock(self, **body: Any) -> Any:
        return self._call("PUT", "/clock", json=body)

    def mini_program(self, appid: str) -> Any:
        return self._call("GET", f"/mini-programs/{appid}")

    def issue_verify_ticket(self, component_appid: str) -> str:
        """A fresh component_verify_ticket (pushed to the component's callback URL when it has one)."""
        ticket: str = self._call("POST", f"/components/{component_appid}/verify-ticket")["component_verify_ticket"]
        return ticket

    def answer(self, confirmation_id: str, wxid: str, action: str = "confirm") -> Any:
        return self._call("POST", f"/confirmations/{confirmation_id}", json={"wxid": wxid, "action": action})

    def set_blacklisted(self, principal_name: str, blacklisted: bool = True) -> Any:
        return self._call("PATCH", f"/principals/{principal_name}", json={"blacklisted": blacklisted})

    def add_personal_wechat_email(self, email: str) -> Any:
        return self._call("POST", "/personal-wechat-emails", json={"email": email})

    def audit(self, appid: str | None = None) -> Any:
        return self._call("GET", "/audit", params={"appid": appid} if appid else None)

    def add_fault(
        self,
        path: str,
        *,
        appid: str | None = None,
        times: int = 1,
        errcode: int | None = None,
        http_status: int | None = None,
        delay_ms: int | None = None,
        after_commit: str | None = None,
    ) -> Any:
        """Inject a fault into the next ``times`` calls of the Open API route ``path`` (see the README)."""
        body = {"path": path, "appid": appid, "times": times, "errcode": errcode, "http_status": http_status}
        body |= {"delay_ms": delay_ms, "after_commit": after_commit}
        return self._call("POST", "/faults", json={key: value for key, value in body.items() if value is not None})

    def faults(self) -> Any:
        return self._call("GET", "/faults")

    def delete_fault(self, fault_id: str) -> Any:
        return self._call("DELETE", f"/faults/{fault_id}")

    def clear_faults(self) -> Any:
        return self._call("DELETE", "/faults")


class UrllibSandboxClient(SandboxCalls):
    """The sandbox API over ``urllib.request``, one connection per call (environment proxies honoured, HTTPS
    checked against certifi's CA bundle as httpx does). Failing to reach the server raises
    :class:`SandboxUnreachable`."""

    def __init__(self, base_url: str, key: str, *, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        import http.client
        import urllib.error
        import urllib.request
        from json import loads

        url, headers, data = call_parts(f"{self.base_url}/sandbox/v1", self.key, path, payload=json, params=params)
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=_tls(url)) as response:
                body = response.read()
        except urllib.error.HTTPError as refused:
            raise SandboxRefusal.of(refused.code, refused.read(), f"{method} /sandbox/v1{path}") from None
        except urllib.error.URLError as error:
            raise SandboxUnreachable(str(error.reason)) from None
        except (OSError, http.client.HTTPException) as error:
            raise SandboxUnreachable(str(error) or type(error).__name__) from None
        return loads(body) if body else None


def _tls(url: str) -> Any:
    """certifi's CA bundle for an https URL (as httpx checks it); none needed for http."""
    if not url.startswith("https:"):
        return None
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())
