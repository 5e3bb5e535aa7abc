"""The embedded SMTP server (aiosmtpd) that stores every delivered message in the sandbox outbox
(``mail_outbox``): recipient, subject, text, HTML, the links found in them and the delivery time.

Messages are written by one writer thread per sink. The SMTP handler waits a moment for the write so the
mail is normally visible as soon as the sender's request returns; if the sender still holds the SQLite write
lock (it sent inside its own transaction), the handler answers at once and the write follows the sender's
commit. :func:`flush_deliveries` waits until every sink of this process has written what it received."""

from __future__ import annotations

import asyncio
import html as html_lib
import logging
import queue
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from fastreg.adapters.db.models import MailMessage

if TYPE_CHECKING:
    from fastreg.platform import Platform

log = logging.getLogger(__name__)

# ASCII URL characters only (RFC 3986), so Chinese punctuation after a link is not taken into it.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&()*+,;=%]+")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


@dataclass(frozen=True)
class ParsedMail:
    recipients: list[str]
    subject: str
    text: str
    html: str
    links: list[str]


def extract_links(text: str, html: str) -> list[str]:
    """Every http(s) link of the text part and every href of the HTML part, in order, without repeats."""
    found: list[str] = []
    for match in _URL.finditer(text):
        found.append(match.group(0).rstrip(_TRAILING))
    for match in _HREF.finditer(html):
        href = html_lib.unescape(match.group(1) or match.group(2) or "").strip()
        if href.startswith(("http://", "https://")):
            found.append(href)
    for match in _URL.finditer(re.sub(r"<[^>]+>", " ", html)):
        found.append(html_lib.unescape(match.group(0)).rstrip(_TRAILING))
    return list(dict.fromkeys(found))


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def parse_mail(raw: bytes, recipients: Iterable[str]) -> ParsedMail:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = _part(message, "plain"), _part(message, "html")
    return ParsedMail(
        recipients=[r.strip().lower() for r in recipients],
        subject=str(message.get("subject", "")),
        text=text,
        html=html,
        links=extract_links(text, html),
    )


@dataclass
class _Delivery:
    mail: ParsedMail
    done: threading.Event = field(default_factory=threading.Event)


class OutboxWriter:
    """Writes received mail into the outbox, one transaction per message, on its own thread."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.queue: queue.Queue[_Delivery | None] = queue.Queue()
        self.idle = threading.Condition()
        self.pending = 0
        self.thread = threading.Thread(target=self._run, name="fastreg-mail-writer", daemon=True)
        self.thread.start()

    def submit(self, mail: ParsedMail) -> threading.Event:
        delivery = _Delivery(mail)
        with self.idle:
            self.pending += 1
        self.queue.put(delivery)
        return delivery.done

    def _run(self) -> None:
        while (delivery := self.queue.get()) is not None:
            try:
                self._store(delivery.mail)
            except Exception:  # a broken database must not stop the SMTP server
                log.exception("could not store a delivered email")
            finally:
                delivery.done.set()
                with self.idle:
                    self.pending -= 1
                    self.idle.notify_all()

    def _store(self, mail: ParsedMail) -> None:
        with self.platform.uow() as uow:
            now = uow.clock.now()
            for recipient in mail.recipients:
                uow.session.add(
                    MailMessage(
                        to=recipient,
                        subject=mail.subject,
                        text=mail.text,
                        html=mail.html,
                        links=mail.links,
                        sent_at=now,
                    )
                )
            uow.commit()

    def flush(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.pending == 0, timeout)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=5)


class _Handler:
    def __init__(self, writer: OutboxWriter, wait_seconds: float) -> None:
        self.writer = writer
        self.wait_seconds = wait_seconds

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content: Any = envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        try:
            mail = parse_mail(raw, envelope.rcpt_tos)
        except Exception:
            log.exception("could not parse a delivered email")
            return "554 Transaction failed: unparseable message"
        done = self.writer.submit(mail)
        await asyncio.to_thread(done.wait, self.wait_seconds)
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """An aiosmtpd controller serving on a socket bound beforehand (port 0: the system picks a free port)."""

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)
        self._sock = sock

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class MailSink:
    """A running embedded SMTP server on 127.0.0.1 feeding the outbox of ``platform``'s database."""

    def __init__(self, platform: Platform, *, host: str = "127.0.0.1", wait_seconds: float = 1.0) -> None:
        # aiosmtpd logs every SMTP conversation at INFO; our own access log is enough.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.writer = OutboxWriter(platform)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        self.host, self.port = sock.getsockname()[:2]
        self.controller = _BoundController(
            _Handler(self.writer, wait_seconds), sock, server_hostname="fastreg.local", data_size_limit=10 * 2**20
        )
        self.controller.start()
        with _sinks_lock:
            _sinks.add(self)

    def stop(self) -> None:
        with _sinks_lock:
            _sinks.discard(self)
        try:
            self.controller.stop()
        finally:
            self.writer.close()


_sinks: set[MailSink] = set()
_sinks_lock = threading.Lock()


def flush_deliveries(timeout: float = 5.0) -> None:
    """Wait until every message received by this process's sinks is in the outbox."""
    with _sinks_lock:
        sinks = list(_sinks)
    for sink in sinks:
        sink.writer.flush(timeout)
