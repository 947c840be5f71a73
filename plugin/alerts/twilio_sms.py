"""Twilio SMS (MMS with the snapshot when snapshots have a public URL)."""

from __future__ import annotations

from ..registry import register
from .channel import CheckResult, Delivery, SendResult
from .settings import TwilioSmsConfig
from .twilio_client import TwilioChannel

DELIVERED = ("delivered", "read")
UNDELIVERED = ("undelivered", "failed", "canceled")


@register("alert_channel", "twilio_sms")
class TwilioSmsChannel(TwilioChannel):
    """Sends one text per recipient, then asks Twilio for the carrier's delivery receipt."""

    Config = TwilioSmsConfig
    config: TwilioSmsConfig

    def text(self, d: Delivery) -> str:
        """Camera, time, confidence and the incident link, in one SMS segment where possible."""
        parts = [f"gunwatch: {self.headline(d.incident, d.test)}."]
        if d.incident.url:
            parts.append(d.incident.url)
        return " ".join(parts)

    def send(self, d: Delivery) -> SendResult:
        request = {"to": d.recipient, "from_": self.config.from_number, "body": self.text(d)}
        media = self.snapshot_url(d.incident)
        if media:
            request["media_url"] = [media]
        message = self.call("send the SMS", lambda: self.client.messages.create(**request))
        return SendResult("sent", message.sid, f"accepted by Twilio ({message.status})")

    def check(self, d: Delivery, now: float) -> CheckResult:
        message = self.call("fetch the SMS status", lambda: self.client.messages(d.provider_id).fetch())
        status = message.status
        if status in DELIVERED:
            return CheckResult("delivered", f"carrier confirmed ({status})")
        if status in UNDELIVERED:
            return CheckResult("failed", f"Twilio status {status}, error {message.error_code}: "
                                         f"{message.error_message or 'no detail'}")
        if now - (d.sent_at or now) > self.config.status_timeout_s:
            return CheckResult("sent", f"no delivery receipt within "
                                       f"{self.config.status_timeout_s:g} s (Twilio status {status})")
        return CheckResult("sent", f"Twilio status {status}", final=False)
