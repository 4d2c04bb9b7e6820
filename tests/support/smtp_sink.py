"""A real SMTP server for the tests (aiosmtpd, on a free loopback port): it accepts every
email and keeps it, so a test reads what the service sent — envelope and message.

`smtp_sink` is the fixture; `SmtpSink.settings()` gives the service's `SmtpSettings`
pointing at it (no STARTTLS, no login); `await sink.next_message(to=…)` waits for
an email (events, not the clock: it returns as soon as one arrives).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from handoff.config import SmtpSettings

WAIT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.sink._received(ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.messages: list[ReceivedMail] = []
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def _received(self, mail: ReceivedMail) -> None:
        with self._lock:
            self.messages.append(mail)

    def settings(self, sender: str = "shop@relais.test") -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.port, sender=sender, starttls=False, timeout_seconds=10)

    async def next_message(self, *, to: str, seconds: float = WAIT_SECONDS) -> ReceivedMail:
        """The first email received for `to` (waiting for it if needed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            with self._lock:
                found = [m for m in self.messages if to in m.rcpt_tos]
            if found:
                return found[0]
            if loop.time() > deadline:
                raise AssertionError(f"no email for {to} within {seconds} s (received: {len(self.messages)})")
            await asyncio.sleep(0.05)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
