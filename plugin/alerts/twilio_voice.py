"""Twilio voice call: a spoken alert repeating camera and time, optionally escalating.

"Answered" means Twilio reported the call `in-progress` or `completed`; with machine_detection
an answering machine or fax (`answered_by` machine_* or fax) does not count. `busy`, `no-answer`,
`failed` and `canceled` mean not answered, and so does a call with no final status within
ring_timeout_s + 120 s. With `escalate`, the outbox calls the next number only after the
previous one was not answered.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from twilio.twiml.voice_response import VoiceResponse

from ..registry import register
from .channel import CheckResult, Delivery, SendResult
from .policy import local_time
from .twilio_client import TwilioChannel, TwilioConfig

ANSWERED = ("in-progress", "completed")
NOT_ANSWERED = ("busy", "no-answer", "failed", "canceled")
STATUS_GRACE_S = 120


class TwilioVoiceConfig(TwilioConfig):
    type: Literal["twilio_voice"]
    escalate: bool = Field(
        False, description="call the recipients one after another until one answers (false: "
                           "call all of them)")
    repeat: int = Field(3, ge=1, le=10, description="how often the call says camera and time")
    ring_timeout_s: int = Field(30, ge=5, le=600, description="how long a call rings before it "
                                                             "counts as not answered, seconds")
    machine_detection: bool = Field(
        False, description="let Twilio detect answering machines; a machine then does not count "
                           "as answered")
    voice: str | None = Field(None, description="Twilio <Say> voice, e.g. Polly.Joanna "
                                                "(default Twilio's)")
    language: str | None = Field(None, description="<Say> language, e.g. en-GB (default Twilio's)")


@register("alert_channel", "twilio_voice")
class TwilioVoiceChannel(TwilioChannel):
    """Places one call per recipient with TwiML <Say>, then polls the call's status."""

    Config = TwilioVoiceConfig
    config: TwilioVoiceConfig

    def twiml(self, d: Delivery) -> str:
        i = d.incident
        moment = local_time(i.started_at, self.tz)
        intro = "This is a test of gunwatch alerts. There is no danger. " if d.test else ""
        speech = (f"{intro}Gunwatch alert. A {i.label} was detected on camera {i.camera}, "
                  f"at {moment:%H:%M}, {moment:%A}.")
        response = VoiceResponse()
        say = {"loop": self.config.repeat}
        if self.config.voice:
            say["voice"] = self.config.voice
        if self.config.language:
            say["language"] = self.config.language
        response.say(speech, **say)
        return str(response)

    def send(self, d: Delivery) -> SendResult:
        request = {"to": d.recipient, "from_": self.config.from_number, "twiml": self.twiml(d),
                   "timeout": self.config.ring_timeout_s}
        if self.config.machine_detection:
            request["machine_detection"] = "Enable"
        call = self.call("place the call", lambda: self.client.calls.create(**request))
        return SendResult("sent", call.sid, f"call placed ({call.status})")

    def check(self, d: Delivery, now: float) -> CheckResult:
        call = self.call("fetch the call status", lambda: self.client.calls(d.provider_id).fetch())
        status, answered_by = call.status, call.answered_by or ""
        if status in ANSWERED:
            if self.config.machine_detection and (answered_by.startswith("machine") or
                                                  answered_by == "fax"):
                return CheckResult("failed", f"not answered by a person (answered_by {answered_by})")
            return CheckResult("delivered", f"answered (Twilio status {status})")
        if status in NOT_ANSWERED:
            return CheckResult("failed", f"not answered (Twilio status {status})")
        limit = self.config.ring_timeout_s + STATUS_GRACE_S
        if now - (d.sent_at or now) > limit:
            return CheckResult("failed", f"no answer within {limit} s (Twilio status {status})")
        return CheckResult("sent", f"Twilio status {status}", final=False)
