"""Mail round trip: the SMTP mailer delivers over real SMTP to the embedded sink, which stores each message
in the outbox (on SQLite and PostgreSQL)."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from fastreg.adapters.mail import SmtpMailer, extract_links, parse_mail, start_mail
from fastreg.adapters.mail.render import JinjaMailTemplates
from fastreg.domain.clock import FixedClock
from fastreg.domain.entities import OutgoingMail
from fastreg.platform import Platform
from fastreg.services.pushes import queue_mail, send_due_mail
from fastreg.services.sandbox import outbox
from tests.conftest import START


@pytest.fixture
def mailing(platform: Platform) -> Iterator[Platform]:
    stop = start_mail(platform)
    try:
        yield platform
    finally:
        stop()


def test_chinese_mail_round_trip_through_embedded_smtp(mailing: Platform, clock: FixedClock) -> None:
    mailer = mailing.mailer
    assert isinstance(mailer, SmtpMailer)
    assert mailer.host == "127.0.0.1" and mailer.port > 0
    mailer.send(
        "Owner@Example.com",
        "请激活你的小程序帐号",
        "你好！请点击链接激活：https://fastreg.test/activate/abc123。48小时内有效。",
        '<p>你好！<a href="https://fastreg.test/activate/abc123?x=1&amp;y=2">激活帐号</a></p>',
    )
    messages = outbox(mailing, to="owner@example.com")
    assert len(messages) == 1
    mail = messages[0]
    assert mail["to"] == "owner@example.com"
    assert mail["subject"] == "请激活你的小程序帐号"
    assert "48小时内有效" in mail["text"]
    assert "激活帐号" in mail["html"]
    assert mail["links"] == ["https://fastreg.test/activate/abc123", "https://fastreg.test/activate/abc123?x=1&y=2"]
    assert mail["sent_at"] == "2026-11-10T04:00:00Z"
    assert isinstance(mail["id"], int)


def test_outbox_filters_by_recipient_and_keeps_order(mailing: Platform) -> None:
    assert mailing.mailer is not None
    for n, to in enumerate(["a@example.com", "b@example.com", "a@example.com"]):
        mailing.mailer.send(to, f"第{n}封", f"正文 {n}", "")
    assert [m["subject"] for m in outbox(mailing, to="a@example.com")] == ["第0封", "第2封"]
    assert [m["subject"] for m in outbox(mailing)] == ["第0封", "第1封", "第2封"]
    assert outbox(mailing, to="b@example.com")[0]["html"] == ""
    assert outbox(mailing, to="nobody@example.com") == []


def test_sink_accepts_mail_from_any_smtp_client(mailing: Platform) -> None:
    """A plain smtplib client (not our mailer), one message to two recipients: one outbox row each."""
    mailer = mailing.mailer
    assert isinstance(mailer, SmtpMailer)
    message = EmailMessage()
    message["From"] = "someone@example.org"
    message["To"] = "x@example.com, y@example.com"
    message["Subject"] = "Plain"
    message.set_content("see http://127.0.0.1:8000/m/confirm/abc")
    with smtplib.SMTP(mailer.host, mailer.port) as smtp:
        smtp.send_message(message)
    rows = outbox(mailing)
    assert sorted(row["to"] for row in rows) == ["x@example.com", "y@example.com"]
    assert all(row["links"] == ["http://127.0.0.1:8000/m/confirm/abc"] for row in rows)


def test_mail_sent_inside_a_write_transaction_still_arrives(mailing: Platform) -> None:
    """A service that sends while holding the database's write lock must not deadlock the sink."""
    assert mailing.mailer is not None
    with mailing.uow() as uow:
        from fastreg.adapters.db.models import PersonalWechatEmail

        uow.session.add(PersonalWechatEmail(email="held@example.com"))
        uow.session.flush()
        mailing.mailer.send("late@example.com", "事务中发送", "body", "")
        uow.commit()
    assert [m["subject"] for m in outbox(mailing, to="late@example.com")] == ["事务中发送"]


def test_configured_smtp_host_is_used_instead_of_the_sink(platform: Platform) -> None:
    configured = platform.settings.model_copy(update={"smtp_host": "mail.example.net", "smtp_port": 2525})
    other = Platform(settings=configured, engine=platform.engine, sessions=platform.sessions, clocks=platform.clocks)
    stop = start_mail(other)
    try:
        assert isinstance(other.mailer, SmtpMailer)
        assert (other.mailer.host, other.mailer.port) == ("mail.example.net", 2525)
    finally:
        stop()


def test_parse_and_link_extraction() -> None:
    raw = (
        b"From: a@b.cc\r\nTo: c@d.ee\r\nSubject: =?utf-8?b?5r+A5rS7?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "链接：http://h.test/a?b=1，谢谢".encode()
    )
    parsed = parse_mail(raw, ["C@D.ee"])
    assert parsed.subject == "激活"
    assert parsed.recipients == ["c@d.ee"]
    assert parsed.links == ["http://h.test/a?b=1"]
    assert parsed.html == ""
    assert extract_links("", "<a href='https://x.test/1'>x</a> https://y.test/2") == [
        "https://x.test/1",
        "https://y.test/2",
    ]


def test_activation_mail_escapes_the_official_accounts_name() -> None:
    """The OA's name is operator-controlled text: in the activation mail's HTML it is text, never markup."""
    mail = JinjaMailTemplates().render(
        "activation",
        oa_name='<img src=x onerror="alert(1)">公众号',
        email="owner@example.com",
        url="http://testserver/activate/tok123",
        hours=48,
    )
    assert "<img" not in mail.html and "&lt;img src=x" in mail.html
    assert '<img src=x onerror="alert(1)">公众号' in mail.text  # the plain-text part says it as typed
    assert mail.subject == "激活你的小程序帐号 / Activate your Mini Program account"
    assert "请在 48 小时内" in mail.text and "within 48 hours" in mail.html
    assert extract_links(mail.text, mail.html) == ["http://testserver/activate/tok123"]


def _queue(platform: Platform, to: str) -> None:
    with platform.uow() as uow:
        queue_mail(platform, uow, to, "activation", oa_name="号", email=to, url="http://t/activate/x", hours=48)
        uow.commit()


def test_queued_mail_is_sent_after_commit_and_only_then(mailing: Platform) -> None:
    with mailing.uow() as uow:  # rolled back: nothing is ever sent
        queue_mail(mailing, uow, "gone@example.com", "activation", oa_name="号", email="g", url="http://t/a", hours=1)
    _queue(mailing, "owner@example.com")
    assert outbox(mailing, to="owner@example.com") == []  # queued, not sent: the worker sends it
    assert send_due_mail(mailing) == 1
    (mail,) = outbox(mailing, to="owner@example.com")
    assert mail["links"] == ["http://t/activate/x"]
    assert send_due_mail(mailing) == 0  # sent once
    assert outbox(mailing, to="gone@example.com") == []


def test_mail_waits_in_the_outbox_while_smtp_is_down(mailing: Platform) -> None:
    working = mailing.mailer
    assert isinstance(working, SmtpMailer)
    mailing.mailer = SmtpMailer("127.0.0.1", 9, working.sender, timeout=1)  # nothing listens on port 9
    _queue(mailing, "later@example.com")
    assert send_due_mail(mailing) == 1  # tried, refused
    with mailing.uow(readonly=True) as uow:
        (row,) = uow.session.query(OutgoingMail).all()
        assert row.sent_at is None and row.attempts == 1 and row.last_error
        row_id = row.id
    assert send_due_mail(mailing) == 0  # not due before its backoff
    mailing.mailer = working
    with mailing.uow() as uow:  # the backoff has passed
        uow.mail.record_attempt(row_id, attempts=1, next_attempt_at=START, sent_at=None, last_error="x")
        uow.commit()
    assert send_due_mail(mailing) == 1
    assert [m["to"] for m in outbox(mailing)] == ["later@example.com"]
