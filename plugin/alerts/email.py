"""E-mail over SMTP, with the annotated snapshot attached."""

from __future__ import annotations

import smtplib
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from ..checks import Checker
from ..registry import register
from .channel import AlertChannel, Delivery, PermanentError, SendResult, TransientError, redact
from .settings import ChannelConfig, Destination, EmailAddress, EmailRecipient


class EmailConfig(ChannelConfig):
    type: Literal["email"]
    host: str = Field(description="SMTP server host")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 SSL, 25 none)")
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="transport security")
    username: str | None = Field(None, description="SMTP login (default: no login)")
    password: SecretStr | None = Field(None, description="SMTP password")
    from_address: EmailAddress = Field(description="sender address")
    recipients: tuple[EmailRecipient, ...] = Field(min_length=1, description="addresses to alert")
    attach_snapshot: bool = Field(True, description="attach the annotated snapshot JPEG")
    subject_prefix: str = Field("[gunwatch]", description="start of every subject line")

    def destinations(self, camera: str) -> list[Destination]:
        return [(r.to, r) for r in self.recipients]


def _smtp_error(code: int, text: bytes | str, what: str) -> TransientError | PermanentError:
    """SMTP says itself whether to retry: 4xx is temporary, 5xx is final."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    message = f"SMTP server refused {what}: {code} {redact(text)}"
    return PermanentError(message) if code >= 500 else TransientError(message)


def check_email_channel(doctor: Checker, name: str, channel: EmailConfig) -> None:
    try:
        detail = EmailChannel(name, channel, doctor.config.alerts).probe()
    except PermanentError as exc:
        doctor.add(name, "FAIL", str(exc), "fix security/username/password to what the SMTP server expects")
        return
    except Exception as exc:  # TransientError and whatever else stops a delivery
        doctor.add(name, "FAIL", str(exc), f"allow SMTP from this host to {channel.host}:{channel.port} "
                   "(or fix host/port)")
        return
    doctor.add(name, "OK", f"{detail}; {len(channel.recipients)} recipients")


@register("alert_channel", "email")
class EmailChannel(AlertChannel):
    Config = EmailConfig
    doctor_check = staticmethod(check_email_channel)
    config: EmailConfig

    def message(self, d: Delivery) -> EmailMessage:
        cfg, i = self.config, d.incident
        msg = EmailMessage()
        msg["Subject"] = f"{cfg.subject_prefix} {self.headline(i, d.test)}".strip()
        msg["From"] = cfg.from_address
        msg["To"] = d.recipient
        msg["Date"] = formatdate(localtime=True)
        # The same Message-ID on every attempt of one alert: mail systems that see a resend
        # after a crash can recognise it as the same message.
        msg["Message-ID"] = f"<{d.key}@gunwatch>"
        lines = [self.headline(i, d.test) + ".", "",
                 f"Camera:     {i.camera}", f"Time:       {self.when(i)}",
                 f"Object:     {i.label}, confidence {i.confidence:.0%}, box {i.box.as_list(0)}",
                 f"Incident:   {i.id} (sighting {i.update + 1})"]
        if i.url:
            lines.append(f"Recording:  {i.url}")
        if self.snapshot_url(i):
            lines.append(f"Snapshot:   {self.snapshot_url(i)}")
        snapshot = Path(i.snapshot) if i.snapshot else None
        attach = cfg.attach_snapshot and snapshot is not None
        if attach and not snapshot.is_file():
            lines.append(f"(The snapshot {snapshot.name} no longer exists on the gunwatch host.)")
            attach = False
        msg.set_content("\n".join(lines) + "\n")
        if attach:
            msg.add_attachment(snapshot.read_bytes(), maintype="image", subtype="jpeg",
                               filename=snapshot.name)
        return msg

    def send(self, d: Delivery) -> SendResult:
        msg = self.message(d)
        with self._smtp_errors(), self._session() as smtp:
            smtp.send_message(msg)
        return SendResult("sent", msg["Message-ID"], f"accepted by {self.config.host}")

    def probe(self) -> str:
        """Connects, secures and logs in as a delivery would, then quits without sending:
        what `gunwatch doctor` checks. Raises the errors a delivery would."""
        cfg = self.config
        with self._smtp_errors(), self._session() as smtp:
            smtp.noop()
        login = f", logged in as {cfg.username}" if cfg.username else ""
        return f"SMTP {cfg.host}:{cfg.port} answers ({cfg.security}{login})"

    def _session(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "ssl":
            smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_s,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s)
        try:
            if cfg.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    @contextmanager
    def _smtp_errors(self):
        """SMTP failures as PermanentError (fix the config) or TransientError (retry)."""
        cfg = self.config
        try:
            yield
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login failed ({exc.smtp_code}); check username and "
                                 f"password") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise PermanentError(f"SMTP server does not support {cfg.security}: {exc}; set "
                                 f"security to match the server") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _smtp_error(code, text, "the recipient") from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, exc.smtp_error, "the message") from exc
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(f"SMTP server certificate not trusted: {exc.verify_message}") \
                from exc
        except OSError as exc:  # includes the remaining smtplib errors (disconnects, timeouts)
            raise TransientError(f"SMTP server {cfg.host}:{cfg.port} unreachable: "
                                 f"{type(exc).__name__}: {exc}") from exc
