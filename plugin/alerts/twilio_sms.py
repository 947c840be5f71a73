"""Twilio SMS (MMS with the snapshot when snapshots have a public URL)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..registry import register
from .channel import CheckResult, Delivery, SendResult
from .twilio_client import TwilioChannel, TwilioConfig

DELIVERED = ("delivered", "read")
UNDELIVERED = ("undelivered", "failed", "canceled")


class TwilioSmsConfig(TwilioConfig):
    type: Literal["twilio_sms"]
    status_timeout_s: float = Field(
        900.0, gt=0, description="stop asking for a delivery receipt after this many seconds; "
                                 "the alert then stays `sent`")


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
