"""A client of the sandbox control API (``/sandbox/v1``) on urllib3 (its calls) and httpx (pages, own requests):
the pytest plugin's (:mod:`fastreg.testing`). Its calls are :class:`~fastreg.sandbox_calls.SandboxCalls`';
``fastreg sandbox ...`` makes the same ones on the standard library alone
(:class:`~fastreg.sandbox_calls.UrllibSandboxClient`)."""

from __future__ import annotations

import functools
import ssl
import urllib.request
from json import loads
from typing import Any
from urllib.parse import urlsplit

import certifi
import httpx
import urllib3

from fastreg.sandbox_calls import KEY_HEADER, SandboxCalls, SandboxRefusal, call_parts


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


# A kept-alive connection the server closed meanwhile is reconnected once; nothing else is retried.
_RETRIES = urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0, raise_on_status=False)


def _pool_for(base_url: str) -> urllib3.PoolManager:
    """A pool to the server, through the proxy the environment names for it (``HTTP(S)_PROXY``, ``NO_PROXY``),
    as httpx would go."""
    parts = urlsplit(base_url)
    proxy = None if urllib.request.proxy_bypass(parts.hostname or "") else urllib.request.getproxies().get(parts.scheme)
    if proxy:
        return urllib3.ProxyManager(proxy, ssl_context=_tls())
    return urllib3.PoolManager(ssl_context=_tls())


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client the plugin makes: loading the CA bundle costs tens of milliseconds, per
    client (and so per test) otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


class SandboxClient(SandboxCalls):
    """Thin client of the sandbox control API (``/sandbox/v1``); a refusal raises :class:`SandboxAPIError`.
    ``open_page`` loads one of fastreg's pages as a browser would; ``http`` is an ``httpx.Client`` on the API
    for requests of one's own.

    The calls go through urllib3's pool (a kept-alive connection): an integrator's test makes about ten of
    them, and httpx's request machinery cost 0.9 ms of CPU per call against urllib3's 0.5 ms
    (``bench/integrator.py``). Environment proxies are honoured as httpx honours them."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.key = key
        self._api = base_url + "/sandbox/v1"
        self._pool: urllib3.PoolManager | None = _pool_for(base_url)
        self._http: httpx.Client | None = None
        self._browser: httpx.Client | None = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(base_url=self._api, headers={KEY_HEADER: self.key}, timeout=30, verify=_tls())
        return self._http

    @property
    def closed(self) -> bool:
        return self._pool is None

    def forget_browser(self) -> None:
        """Drop what ``open_page``'s browser kept (cookies) before the next test."""
        if self._browser is not None:
            self._browser.cookies.clear()

    def open_page(self, url: str, params: dict[str, Any] | None = None) -> str:
        """The HTML of a page (``/cgi-bin/componentloginpage``, ``/cgi-bin/fastregisterauth``...): an absolute
        URL, or a path on the server. Read its QR code's URL with :func:`scan_url_from_page`."""
        if self._browser is None:
            self._browser = httpx.Client(base_url=self.base_url, timeout=30, verify=_tls())
        response = self._browser.get(url, params=params)
        response.raise_for_status()
        return response.text

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        if self._pool is None:
            raise RuntimeError("the sandbox client is closed")
        url, headers, body = call_parts(self._api, self.key, path, payload=json, params=params)
        try:
            answer = self._pool.request(method, url, body=body, headers=headers, retries=_RETRIES, timeout=30)
        except urllib3.exceptions.HTTPError as error:  # unreachable, timed out, broken answer: httpx's kind
            raise httpx.TransportError(f"{method} {url}: {error}", request=httpx.Request(method, url)) from None
        if answer.status >= 400:
            raise SandboxAPIError(
                httpx.Response(answer.status, content=answer.data, request=httpx.Request(method, url))
            )
        return loads(answer.data) if answer.data else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
            self._pool = None
        for client in (self._http, self._browser):
            if client is not None:
                client.close()

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
