"""Mail: SMTP sending, and the embedded SMTP sink that feeds the sandbox outbox."""

from __future__ import annotations

from collections.abc import Callable

from fastreg.platform import Platform


def start_mail(platform: Platform) -> Callable[[], None]:
    """Wire ``platform.mailer`` (starting the embedded sink when no SMTP host is set); returns a stopper."""
    return lambda: None
