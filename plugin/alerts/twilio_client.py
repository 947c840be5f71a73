"""What both Twilio channels share: the REST client and how Twilio's errors are classified."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable, TypeVar

import requests
from pydantic import AnyHttpUrl, Field, SecretStr
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ..checks import Checker, why
from .channel import AlertChannel, PermanentError, TransientError, redact
from .settings import ChannelConfig, Destination, PhoneNumber, PhoneRecipient

if TYPE_CHECKING:
    from .config import AlertsConfig

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


class TwilioConfig(ChannelConfig):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$",
                             description="Twilio Account SID (AC + 32 hex digits)")
    auth_token: SecretStr = Field(description="Twilio auth token; write ${TWILIO_AUTH_TOKEN}")
    from_number: PhoneNumber = Field(description="your Twilio number, E.164")
    recipients: tuple[PhoneRecipient, ...] = Field(min_length=1, description="numbers to alert")
    api_url: AnyHttpUrl | None = Field(
        None, description="Twilio REST API address (default Twilio's own; for a regional "
                          "endpoint, a proxy or a test server)")
    status_poll_s: float = Field(5.0, gt=0, description="how often to ask Twilio for the status "
                                                        "of a sent message or call, seconds")

    def destinations(self, camera: str) -> list[Destination]:
        return [(r.to, r) for r in self.recipients]


def check_twilio_channel(doctor: Checker, name: str, channel: TwilioConfig) -> None:
    base = str(channel.api_url).rstrip("/") if channel.api_url else "https://api.twilio.com"
    url = f"{base}/2010-04-01/Accounts/{channel.account_sid}.json"
    numbers = [channel.from_number] + [r.to for r in channel.recipients]
    try:
        response = doctor.http_get("twilio", url, auth=(channel.account_sid,
                                                      channel.auth_token.get_secret_value()))
    except requests.RequestException as exc:
        doctor.add(name, "FAIL", f"cannot reach Twilio at {base} ({why(exc)})",
                   "allow HTTPS to api.twilio.com from this host (or fix api_url)")
        return
    if response.status_code in (401, 403):
        doctor.add(name, "FAIL", f"Twilio refuses account_sid {channel.account_sid} with this "
                   f"auth_token (HTTP {response.status_code})",
                   "copy Account SID and Auth Token from the Twilio console (auth_token: ${TWILIO_AUTH_TOKEN})")
        return
    if response.status_code == 404:
        # Twilio answers 404 for an account it does not have, and so does anything that is
        # not Twilio's API: neither says anything about whether the account is active.
        doctor.add(name, "FAIL", f"no account {channel.account_sid} at {base} (HTTP 404)",
                   "check account_sid (the console's Account SID, AC and 32 hex digits) and api_url "
                   "(leave it out for Twilio's own API)")
        return
    try:
        status = response.json().get("status") if response.ok else None
    except ValueError:
        status = None
    if status != "active":
        doctor.add(name, "FAIL", f"Twilio account {channel.account_sid}: HTTP "
                   f"{response.status_code}, status {status or 'unknown'}",
                   "an account must be active to send; see the Twilio console")
        return
    doctor.add(name, "OK", f"Twilio account active; {len(numbers)} numbers in E.164 "
               f"(from {channel.from_number}, {len(numbers) - 1} recipients)")


class TwilioChannel(AlertChannel):
    """Base of the SMS and voice channels: one REST client, errors mapped to retry or fail."""

    doctor_check = staticmethod(check_twilio_channel)
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
