"""Webhook: the alert as JSON in an HTTP POST, signed with HMAC-SHA256.

Receivers verify `X-Gunwatch-Signature: sha256=<hex>`, the HMAC-SHA256 under the configured
secret of `<X-Gunwatch-Timestamp>.<raw body>`, and may drop repeats by `Idempotency-Key` (the
same for every attempt of one alert, so a resend after a crash can be recognised).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import requests
from pydantic import AnyHttpUrl, Field, SecretStr

from .. import __version__
from ..checks import NETWORK_TIMEOUT_S, Checker, why
from ..registry import register
from .channel import AlertChannel, Delivery, PermanentError, SendResult, TransientError
from .settings import ChannelConfig, Destination

if TYPE_CHECKING:
    from .config import AlertsConfig

RETRY_STATUSES = (408, 425, 429)


class WebhookConfig(ChannelConfig):
    type: Literal["webhook"]
    url: AnyHttpUrl = Field(description="where the JSON alert is POSTed")
    secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key; signs each request (X-Gunwatch-Signature header)")

    def destinations(self, camera: str) -> list[Destination]:
        return [(str(self.url), None)]


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delay in seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def check_webhook_channel(doctor: Checker, name: str, channel: WebhookConfig) -> None:
    """Connects (and shakes hands for https) but sends nothing: any request could be taken
    for an alert by the receiver."""
    url = urlsplit(str(channel.url))
    port = url.port or (443 if url.scheme == "https" else 80)
    shown = f"{url.scheme}://{url.hostname}:{port}"  # webhook paths often carry a token
    try:
        with socket.create_connection((url.hostname, port), timeout=NETWORK_TIMEOUT_S) as sock:
            if url.scheme == "https":
                with ssl.create_default_context().wrap_socket(sock, server_hostname=url.hostname):
                    pass
    except ssl.SSLError as exc:
        doctor.add(name, "FAIL", f"{shown}: TLS handshake failed ({why(exc)})",
                   "give the receiver a certificate this host trusts (or fix url)")
        return
    except OSError as exc:
        doctor.add(name, "FAIL", f"cannot connect to {url.hostname}:{port} ({why(exc)})",
                   "start the receiver or allow this host to reach it (or fix url)")
        return
    doctor.add(name, "OK", f"{shown} accepts connections (no alert sent)")


@register("alert_channel", "webhook")
class WebhookChannel(AlertChannel):
    Config = WebhookConfig
    doctor_check = staticmethod(check_webhook_channel)
    config: WebhookConfig

    def __init__(self, name: str, config: WebhookConfig, alerts: AlertsConfig):
        super().__init__(name, config, alerts)
        self.session = requests.Session()

    def send(self, d: Delivery) -> SendResult:
        body = json.dumps(self.payload(d), separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": f"gunwatch/{__version__}",
                   "Idempotency-Key": d.key, "X-Gunwatch-Timestamp": timestamp}
        if self.config.secret is not None:
            headers["X-Gunwatch-Signature"] = sign(
                self.config.secret.get_secret_value().encode(), timestamp, body)
        try:
            # No redirects: requests would turn the POST into a GET and lose the alert.
            response = self.session.post(d.recipient, data=body, headers=headers,
                                         timeout=self.config.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientError(f"webhook unreachable: {type(exc).__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return SendResult("delivered", response.headers.get("X-Request-Id"), f"HTTP {status}")
        if status in RETRY_STATUSES or status >= 500:
            raise TransientError(f"webhook answered HTTP {status}",
                                 retry_after(response.headers.get("Retry-After")))
        if 300 <= status < 400:
            raise PermanentError(f"webhook redirects (HTTP {status}) to "
                                 f"{response.headers.get('Location')}; configure the final URL")
        raise PermanentError(f"webhook rejected the alert: HTTP {status} {response.text[:200]!r}")

    def close(self) -> None:
        self.session.close()
