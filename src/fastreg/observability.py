"""Structured logs and Prometheus metrics.

Logs: structlog, one line per event, ``console`` (key=value, for people) or ``json`` (for log shippers) by
``settings.log_format``. Every line written while a request is handled carries its ``request_id`` (bound by
:mod:`fastreg.web.middleware`), including lines from the standard ``logging`` module (uvicorn, SQLAlchemy,
our services), which are routed through the same processors.

Metrics: each application has its own :class:`Metrics` (its own ``CollectorRegistry``, so several apps in one
process, as in the tests, never mix their figures):

- ``fastreg_http_requests_total{method,route,status}`` and ``fastreg_http_request_duration_seconds{method,route}``
  (``route`` is the route template, e.g. ``/sandbox/v1/official-accounts/{appid}``; unmatched paths are
  ``<unmatched>``, so the label set stays bounded);
- ``fastreg_registrations_total{outcome,errcode}``: ``outcome`` is ``completed`` or ``refused``;
- ``fastreg_quota_refusals_total``: refusals because the OA's monthly quota was used up (61055);
- ``fastreg_push_failures_total``: failed deliveries of component pushes.

The services report outcomes to ``platform.observer`` (a :class:`Metrics` once the web app is built, see
:func:`fastreg.web.middleware.install`): a completion after its transaction commits (so a rolled-back attempt is
not counted), a refusal with its errcode (61055 also counts as a quota refusal), a failed push delivery. Code
running inside a request can also use :func:`record_registration`, :func:`record_quota_refusal` and
:func:`record_push_failure`, which count into the current app's metrics.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by the workers
and ``/metrics`` answers the sum over all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from fastreg.settings import Settings

CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"

_QUOTA_ERRCODE = 61055

log = structlog.get_logger("fastreg")


class Metrics:
    """The Prometheus metrics of one application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "fastreg_http_requests",
            "HTTP requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "fastreg_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.registrations = Counter(
            "fastreg_registrations",
            "Fast registrations that completed or were refused (errcode of the refusal, 0 when completed)",
            ["outcome", "errcode"],
            registry=self.registry,
        )
        self.quota_refusals = Counter(
            "fastreg_quota_refusals",
            "Registrations refused because the OA's monthly quota was used up (61055)",
            registry=self.registry,
        )
        self.push_failures = Counter(
            "fastreg_push_failures",
            "Failed deliveries of component pushes (each is retried later)",
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._registration_children: dict[tuple[str, int], Any] = {}
        # Pre-create the label-less series and the common outcomes, so they show as 0 before the first event.
        self.registrations.labels(outcome="completed", errcode="0")

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled children are looked up once per (method, route, status): labels() takes a lock and
        # validates its arguments on every call, a measurable share of a fast request.
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def record_registration(self, outcome: str, errcode: int = 0) -> None:
        child = self._registration_children.get((outcome, errcode))
        if child is None:
            child = self._registration_children[outcome, errcode] = self.registrations.labels(outcome, str(errcode))
        child.inc()
        if errcode == _QUOTA_ERRCODE:
            self.quota_refusals.inc()

    def record_push_failure(self) -> None:
        self.push_failures.inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (summed over workers in multiprocess mode)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


# The metrics of the application handling the current request (set by the middleware).
current_metrics: ContextVar[Metrics | None] = ContextVar("fastreg_metrics", default=None)


def _resolve(metrics: Metrics | None) -> Metrics | None:
    return metrics if metrics is not None else current_metrics.get()


def record_registration(outcome: str, errcode: int = 0, *, metrics: Metrics | None = None) -> None:
    """Count a registration outcome (``completed`` or ``refused``) in the given or the current app's metrics."""
    target = _resolve(metrics)
    if target is not None:
        target.record_registration(outcome, errcode)


def record_quota_refusal(*, metrics: Metrics | None = None) -> None:
    target = _resolve(metrics)
    if target is not None:
        target.quota_refusals.inc()


def record_push_failure(*, metrics: Metrics | None = None) -> None:
    target = _resolve(metrics)
    if target is not None:
        target.push_failures.inc()


# ---------------------------------------------------------------- logging


class _Stream:
    """Where log lines go; loggers keep this object, so a reconfiguration can point it elsewhere."""

    def __init__(self) -> None:
        self.target: TextIO = sys.stderr

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


class _Renderer:
    """The renderer in force (console or JSON); loggers keep this object, so a reconfiguration takes effect on
    loggers already cached."""

    def __init__(self) -> None:
        self.render: Any = render_console

    def __call__(self, logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> Any:
        return self.render(logger, name, event_dict)


_stream = _Stream()
_configured: tuple[str, str] | None = None
_bound: dict[str, Any] = {}


def bound_logger(name: str) -> Any:
    """``name``'s structlog logger, bound once per configuration: structlog's lazy proxy binds a new one at every
    call (some 10 µs of every request's access line)."""
    logger = _bound.get(name)
    if logger is None:
        logger = _bound[name] = structlog.get_logger(name).bind()
    return logger


_FIRST_KEYS = ("timestamp", "level", "event", "logger")


# Control characters (C0, DEL, C1) and the Unicode line separators: a request path or a message carrying them
# could forge log lines or send terminal escape sequences. The console format writes them escaped.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {10: "\\n", 13: "\\r", 9: "\\t"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    pattern = _CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL
    return pattern.sub(_escape, text) if pattern.search(text) else text


def render_console(_logger: Any, _name: str, event_dict: MutableMapping[str, Any]) -> str:
    """``timestamp [level] event key=value ...`` (keys sorted), then the traceback if any, control characters
    escaped (the traceback keeps its line breaks). A few microseconds a line, where structlog's ConsoleRenderer
    takes tens."""
    exception = event_dict.pop("exception", None)
    head = f"{event_dict.pop('timestamp', '')} [{event_dict.pop('level', '')}] {event_dict.pop('event', '')}"
    logger_name = event_dict.pop("logger", None)
    if logger_name:
        head += f" [{logger_name}]"
    if event_dict:
        head += " " + " ".join(f"{key}={value}" for key, value in sorted(event_dict.items()))
    head = escape_controls(head)
    return f"{head}\n{escape_controls(str(exception), keep_newlines=True)}" if exception else head


_renderer = _Renderer()


def configure_logging(settings: Settings, *, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard ``logging`` module for the whole process. Idempotent; ``stream``
    (default stderr) is where every line goes."""
    global _configured
    _stream.target = stream or sys.stderr
    wanted = (settings.log_format, settings.log_level.upper())
    if _configured == wanted:
        return
    _configured = wanted
    level = logging.getLevelNamesMapping().get(wanted[1], logging.INFO)
    _renderer.render = structlog.processors.JSONRenderer() if settings.log_format == "json" else render_console
    renderer = _renderer
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # structlog's own lines skip the logging module (a third of the cost of a line) and write directly.
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=structlog.WriteLoggerFactory(file=_stream),  # type: ignore[arg-type]
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Not cached: a logger cached on first use keeps the level of that moment, and the process may be
        # configured again (an in-process server of the pytest plugin at WARNING, then an app at INFO).
        cache_logger_on_first_use=False,
    )
    _bound.clear()
    # Lines of the logging module (uvicorn, SQLAlchemy, libraries) get the same processors and format.
    handler = logging.StreamHandler(_stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, structlog.processors.format_exc_info],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler._fastreg = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_fastreg", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers go through the same format; its access log is replaced by ours (one line per request,
    # with the request id and the route template).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
