"""Sending email through the configured SMTP server (`relais.smtp.*`), with aiosmtplib.

Used for advisors' answers to offline messages (`services/inbox.py`). A failure
— no server configured, refused connection, timeout, rejected recipient — is a
`MailUnavailable` (503 `mail_unavailable`): the caller changes nothing, and the
advisor reads why. The password is never logged: log lines name the host, the
port and the error's class only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from handoff.config import SmtpSettings
from handoff.domain import DomainError

log = logging.getLogger(__name__)


class MailUnavailable(DomainError):
    """The email could not be sent; nothing was recorded."""

    status = 503
    code = "mail_unavailable"


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str
    reply_to: str | None = None


class Mailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.host)

    async def send(self, mail: Mail) -> str:
        """Send `mail`; its Message-ID. Raises `MailUnavailable` when it was not accepted."""
        settings = self.settings
        if not settings.host:
            raise MailUnavailable("no SMTP server is configured (relais.smtp.host); the email was not sent")
        message = EmailMessage()
        message["From"] = settings.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
        if mail.reply_to:
            message["Reply-To"] = mail.reply_to
        message.set_content(mail.body)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=settings.password,
                start_tls=settings.starttls,
                timeout=settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("email not sent via %s:%s (%s)", settings.host, settings.port, type(exc).__name__)
            raise MailUnavailable(
                f"the email could not be sent: the SMTP server {settings.host}:{settings.port} "
                f"did not accept it ({type(exc).__name__})",
                dependency="smtp",
            ) from None
        return str(message["Message-ID"])
