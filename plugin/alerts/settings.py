"""The parts of the `alerts:` section every channel shares: recipients and their schedules,
retries, policies. Each channel's own config class is in the
channel's module; the section itself, whose `channels` take every registered channel's class, is
alerts/config.py. Channel modules import from here, not from there, so that the registry can
import them while it builds that section."""

from __future__ import annotations

import re
from abc import abstractmethod
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from ..schema import GunwatchModel

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _normalize_phone(value: Any) -> Any:
    # People paste numbers as "+1 (555) 123-4567"; Twilio wants the bare E.164 form.
    if isinstance(value, str):
        return re.sub(r"[\s().-]", "", value)
    return value


def _check_e164(value: str) -> str:
    if not _E164.match(value):
        raise ValueError("must be an E.164 phone number: + then country code and number, "
                         "7 to 15 digits, e.g. +15551234567")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like guard@example.org")
    return value


def _yaml_clock_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 22:00 as the base-60 integer 1320; turn it back into 22:00.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    return value


PhoneNumber = Annotated[str, BeforeValidator(_normalize_phone), AfterValidator(_check_e164)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
ClockTime = Annotated[time, BeforeValidator(_yaml_clock_time)]


class TimeWindow(GunwatchModel):
    """A daily time span; `end` before `start` runs past midnight, `end` equal to `start` is 24 h."""

    days: tuple[Day, ...] = Field(DAYS, description="days on which the window starts (default every day)")
    start: ClockTime = Field(description="local start time, HH:MM (quote it in YAML: '22:00')")
    end: ClockTime = Field(description="local end time, HH:MM; before start = the next day")


class RecipientRules(GunwatchModel):
    """When a person wants alerts: an optional on-duty schedule and optional quiet hours."""

    schedule: tuple[TimeWindow, ...] = Field(
        (), description="alert only inside these windows (default: always)")
    quiet_hours: tuple[TimeWindow, ...] = Field(
        (), description="never alert inside these windows; they win over `schedule`")
    when_quiet: Literal["skip", "defer"] = Field(
        "skip", description="outside the schedule or in quiet hours: skip the alert, or defer "
                            "it until the recipient may be reached")

    @model_validator(mode="before")
    @classmethod
    def _bare_address(cls, data: Any) -> Any:
        # A recipient without rules may be written as just the number or address.
        return {"to": data} if isinstance(data, str) else data

    @property
    def has_rules(self) -> bool:
        return bool(self.schedule or self.quiet_hours)


class PhoneRecipient(RecipientRules):
    to: PhoneNumber = Field(description="E.164 phone number, e.g. +15551234567")


class EmailRecipient(RecipientRules):
    to: EmailAddress = Field(description="e-mail address")


Destination = tuple[str, RecipientRules | None]


class ChannelConfig(GunwatchModel):
    """Settings every channel has."""

    timeout_s: float = Field(10.0, gt=0, le=120, description="network timeout of one delivery "
                                                             "attempt, seconds")

    @abstractmethod
    def destinations(self, camera: str) -> list[Destination]:
        """Who this channel alerts about `camera`: (recipient, rules) in order."""


def check_retry_bounds(retry: RetryConfig) -> None:
    """retry.max_s below retry.initial_s would make the first retry the longest."""
    if retry.max_s < retry.initial_s:
        raise ValueError(f"max_s ({retry.max_s}) is below initial_s ({retry.initial_s}); "
                         f"raise max_s or lower initial_s")


class RetryConfig(GunwatchModel):
    initial_s: float = Field(5.0, gt=0, description="wait before the first retry, seconds")
    max_s: float = Field(300.0, gt=0, description="longest wait between retries, seconds")
    multiplier: float = Field(2.0, ge=1, description="each wait is this many times the last")
    jitter: float = Field(0.2, ge=0, le=1, description="fraction by which a wait is shortened at "
                                                      "random, so retries do not arrive together")
    give_up_after_s: float = Field(21600.0, gt=0, description="an alert still not delivered this "
                                                             "long after its incident fails, seconds")

    @model_validator(mode="after")
    def _checks(self) -> RetryConfig:
        check_retry_bounds(self)
        return self


class RateLimitConfig(GunwatchModel):
    max_incidents: int = Field(10, ge=1, description="at most this many incidents alert ...")
    window_s: float = Field(3600.0, gt=0, description="... within this many seconds, all cameras "
                                                     "together; the rest are recorded, not sent")


class PolicyConfig(GunwatchModel):
    camera_cooldown_s: float = Field(
        300.0, ge=0, description="a new incident on a camera within this many seconds of its last "
                                 "alerted sighting is recorded, not sent")
    rate_limit: RateLimitConfig = Field(
        RateLimitConfig(), description="global limit, so that a broken camera cannot page anyone "
                                       "a hundred times")
    recipient_interval_s: float = Field(
        5.0, ge=0, description="least time between two messages to one recipient on one channel, "
                               "seconds (a backlog drains at this pace)")
