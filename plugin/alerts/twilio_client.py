"""What both Twilio channels share: the REST client and how Twilio's errors are classified."""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .channel import AlertChannel, PermanentError, TransientError, redact
from .config import AlertsConfig, TwilioConfig

T = TypeVar("T")

# Twilio error codes that no retry can fix, with what the admin should do.
PERMANENT_CODES = {
    20003: "authentication failed: check account_sid and auth_token",
    20404: "resource not found: check account_sid (and api_url)",
    21211: "invalid 'To' phone number: fix the recipient's number",
    21212: "invalid 'From' number: from_number must be one of your Twilio numbers",
    21214: "the 'To' number cannot be reached",
    21408: "your Twilio account may not send to this country: enable it in Geo Permissions",
    21606: "from_number cannot send SMS",
    21610: "the recipient replied STOP and has unsubscribed",
    21614: "the 'To' number is not a mobile number (cannot receive SMS)",
}

# Twilio's HTTP client logs every request and its headers at INFO; gunwatch logs each delivery
# itself, once, with the number masked.
_http_log = logging.getLogger("gunwatch.alerts.twilio_http")
_http_log.setLevel(logging.WARNING)


class TwilioChannel(AlertChannel):
    """Base of the SMS and voice channels: one REST client, errors mapped to retry or fail."""

    config: TwilioConfig

    def __init__(self, name: str, config: TwilioConfig, alerts: AlertsConfig):
        super().__init__(name, config, alerts)
        self.status_poll_s = config.status_poll_s
        http = TwilioHttpClient(timeout=config.timeout_s, logger=_http_log)
        self.client = Client(config.account_sid, config.auth_token.get_secret_value(),
                             http_client=http)
        if config.api_url is not None:
            self.client.api.base_url = str(config.api_url).rstrip("/")

    def call(self, what: str, request: Callable[[], T]) -> T:
        """Run one REST request; raise TransientError or PermanentError on failure."""
        try:
            return request()
        except TwilioException as exc:
            raise classify(exc, what) from exc
        except requests.RequestException as exc:
            raise TransientError(f"cannot reach Twilio to {what}: {type(exc).__name__}") from exc

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()


def classify(exc: TwilioException, what: str) -> TransientError | PermanentError:
    """429 and 5xx are worth retrying; known permanent codes and other 4xx are not."""
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or type(exc).__name__
    text = f"Twilio refused to {what}: HTTP {status}, error {code}: {redact(str(message))}"
    if code in PERMANENT_CODES:
        return PermanentError(f"{text} ({PERMANENT_CODES[code]})")
    if status is None or status == 429 or status >= 500:
        return TransientError(text)
    return PermanentError(text)
