"""A client of the sandbox control API (``/sandbox/v1``) on httpx: the pytest plugin's (:mod:`fastreg.testing`).
Its calls are :class:`~fastreg.sandbox_calls.SandboxCalls`'; ``fastreg sandbox ...`` makes the same ones on the
standard library alone (:class:`~fastreg.sandbox_calls.UrllibSandboxClient`)."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import certifi
import httpx

from fastreg.sandbox_calls import SandboxCalls, SandboxRefusal


class SandboxAPIError(httpx.HTTPStatusError, SandboxRefusal):
    """A refusal of the sandbox API: its HTTP ``status``, and the ``code`` and ``message`` of the server's
    ``{"error": {"code", "message"}}`` answer; also an ``httpx.HTTPStatusError`` with the response."""

    def __init__(self, response: httpx.Response) -> None:
        described = self.read(response.status_code, response.content)
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {described}",
            request=response.request,
            response=response,
        )


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client the plugin makes: loading the CA bundle costs tens of milliseconds, per
    client (and so per test) otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


class SandboxClient(SandboxCalls):
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

    @property
    def closed(self) -> bool:
        return self.http.is_closed

    def forget_browser(self) -> None:
        """Drop what ``open_page``'s browser kept (cookies) before the next test."""
        if self._browser is not None:
            self._browser.cookies.clear()

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=json, params=params)
        if response.is_error:
            raise SandboxAPIError(response)
        return response.json()

    def close(self) -> None:
        self.http.close()
        if self._browser is not None:
            self._browser.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
