"""A client of the sandbox control API (``/sandbox/v1``) that needs only httpx: used by the pytest plugin
(:mod:`fastreg.testing`) and by ``fastreg sandbox ...`` (which must start fast, so nothing heavier is imported)."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import certifi
import httpx


class SandboxAPIError(httpx.HTTPStatusError):
    """A refusal of the sandbox API: its HTTP ``status``, and the ``code`` and ``message`` of the server's
    ``{"error": {"code", "message"}}`` answer."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.text[:500]
        self.status = response.status_code
        self.code = code
        self.message = message
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {self.status} {code}: {message}",
            request=response.request,
            response=response,
        )


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client the plugin makes: loading the CA bundle costs tens of milliseconds, per
    client (and so per test) otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


class SandboxClient:
    """Thin client of the sandbox control API (``/sandbox/v1``); a refusal raises :class:`SandboxAPIError`.
    ``open_page`` loads one of fastreg's pages as a browser would."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(
            base_url=base_url + "/sandbox/v1", headers={"X-Sandbox-Key": key}, timeout=30, verify=_tls()
        )
        self._browser: httpx.Client | None = None

    def open_page(self, url: str, params: dict[str, Any] | None = None) -> str:
        """The HTML of a page (``/cgi-bin/componentloginpage``, ``/cgi-bin/fastregisterauth``...): an absolute
        URL, or a path on the server. Read its QR code's URL with :func:`scan_url_from_page`."""
        if self._browser is None:
            self._browser = httpx.Client(base_url=self.base_url, timeout=30, verify=_tls())
        response = self._browser.get(url, params=params)
        response.raise_for_status()
        return response.text

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.is_error:
            raise SandboxAPIError(response)
        return response.json()

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

    def close(self) -> None:
        self.http.close()
        if self._browser is not None:
            self._browser.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
