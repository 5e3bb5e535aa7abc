"""Mail: SMTP sending, and the embedded SMTP sink that feeds the sandbox outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastreg.adapters.mail.sender import SmtpMailer, build_message
from fastreg.adapters.mail.sink import MailSink, extract_links, flush_deliveries, parse_mail

if TYPE_CHECKING:
    from fastreg.platform import Platform


def start_mail(platform: Platform) -> Callable[[], None]:
    """Wire ``platform.mailer``; returns a stopper.

    With ``FASTREG_SMTP_HOST`` set, mail goes to that server (port ``FASTREG_SMTP_PORT``, default 25).
    Otherwise an embedded SMTP server starts on a free 127.0.0.1 port and stores every message it receives
    in the ``mail_outbox`` table (the sandbox outbox); the mailer sends to it over real SMTP."""
    settings = platform.settings
    if settings.smtp_host:
        platform.mailer = SmtpMailer(settings.smtp_host, settings.smtp_port or 25, settings.mail_from)
        return lambda: None
    sink = MailSink(platform)
    platform.mailer = SmtpMailer(sink.host, sink.port, settings.mail_from)

    def stop() -> None:
        sink.stop()

    return stop


__all__ = [
    "MailSink",
    "SmtpMailer",
    "build_message",
    "extract_links",
    "flush_deliveries",
    "parse_mail",
    "start_mail",
]
