"""The `alerts:` section: outbox, retries, policies, and the channels, each validated by the
config class of its registered channel plugin (alerts/settings.py has the built-in ones)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, field_validator, model_validator

from .. import registry
from ..schema import GunwatchModel
from .settings import PolicyConfig, RetryConfig

_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

# Every registered alert channel's section (built-in and installed plugins).
AnyChannelConfig = registry.config_union("alert_channel")


class AlertsConfig(GunwatchModel):
    outbox: Path | None = Field(None, description="SQLite outbox file (default: "
                                                  "<state_dir>/alerts.sqlite)")
    timezone: str | None = Field(None, description="IANA zone for times in messages and "
                                                   "schedules, e.g. Europe/Berlin (default: system)")
    snapshot_base_url: AnyHttpUrl | None = Field(
        None, description="public URL under which snapshot files are served; enables MMS and "
                          "snapshot links (URL = this + '/' + file name). Default: the review pages' "
                          "/snapshots when other machines reach them (metrics.public_url, or "
                          "metrics.listen not 127.0.0.1), each link signed to open without a login")
    poll_s: float = Field(1.0, gt=0, le=60, description="how often the delivery worker looks "
                                                       "for alerts written by other processes, seconds")
    retention_days: float = Field(30.0, gt=0, description="finished alerts older than this are "
                                                         "deleted from the outbox")
    retry: RetryConfig = Field(RetryConfig(), description="retries of transient failures "
                                                          "(network, HTTP 429, 5xx)")
    policy: PolicyConfig = Field(PolicyConfig(), description="cooldown, rate limit and pacing")
    channels: dict[str, AnyChannelConfig] = Field(
        {}, description="alert channels by a name you choose (letters, digits, _ and -)")

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        # A key whose entries are all commented out reads as null: it means "the default".
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError("unknown time zone; use an IANA name like Europe/Berlin") from exc
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _CHANNEL_NAME.match(name):
                raise ValueError(f"channel name {name!r} must be 1-40 lowercase letters, digits, "
                                 f"_ or -, starting with a letter or digit")
        return value

    def zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

