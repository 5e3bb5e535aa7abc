"""URLs read the way a browser reads them (the WHATWG URL standard, through ada-url).

A ``redirect_uri`` is where a browser is sent with a fresh ticket or authorization code, so its host must be
the one a browser will go to: for a browser ``\\`` is a path separator, so
``https://evil.example\\@tp.example.com/cb`` is a page of ``evil.example`` (Python's ``urlparse`` says
``tp.example.com``). Callback URLs are kept in the browser's normalized form, so the push worker's HTTP client
reaches the host every other reader sees."""

from __future__ import annotations

import functools

import ada_url

WEB_SCHEMES = frozenset({"http:", "https:"})


def web_url(url: str) -> ada_url.URL | None:
    """``url`` parsed as a browser parses it, when it is an absolute http(s) URL with a host; else None."""
    try:
        parsed = ada_url.URL(url)
    except ValueError:
        return None
    if parsed.protocol not in WEB_SCHEMES or not parsed.hostname:
        return None
    return parsed


def on_domain(url: str, domain: str) -> bool:
    """True when a browser following ``url`` goes to ``domain`` (over http or https, on any port)."""
    if len(url) <= _REMEMBERED_URL_LENGTH:
        return _remembered_on_domain(url, domain)
    return _on_domain(url, domain)


def _on_domain(url: str, domain: str) -> bool:
    parsed = web_url(url)
    return parsed is not None and parsed.hostname == domain.lower()


# A component sends the same few redirect URIs with every ticket, and each fast registration checks its own
# again: the answers for short URLs are remembered (bounded: at most 4096 URLs of at most 512 characters).
_REMEMBERED_URL_LENGTH = 512
_remembered_on_domain = functools.lru_cache(maxsize=4096)(_on_domain)


def normalized_web_url(url: str, max_length: int) -> str | None:
    """The browser's serialization of an absolute http(s) URL, or None when ``url`` is not one or the
    serialization is longer than ``max_length``."""
    parsed = web_url(url)
    href = None if parsed is None else str(parsed.href)
    return href if href is not None and len(href) <= max_length else None
