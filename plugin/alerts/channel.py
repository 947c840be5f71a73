"""What every alert channel shares: the delivery handed to it, its results, errors, and texts."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Callable, Literal
from urllib.parse import quote, urlsplit

from ..domain import Incident
from ..errors import AlertDeliveryError
from .settings import ChannelConfig
from .policy import local_time

if TYPE_CHECKING:
    from .config import AlertsConfig


class TransientError(AlertDeliveryError):
    """The channel may accept the alert later (network down, rate-limited, server error)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(AlertDeliveryError):
    """Trying again cannot help (invalid number, bad credentials, rejected address)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert row handed to a channel: an incident for one recipient."""

    row_id: int
    incident: Incident
    channel: str
    recipient: str
    attempt: int = 1
    queued_at: float = 0.0
    provider_id: str | None = None
    sent_at: float | None = None
    test: bool = False

    @property
    def key(self) -> str:
        """The idempotency key (incident, channel, recipient) as a short stable token."""
        raw = "\0".join((self.incident.id, self.channel, self.recipient)).encode()
        return hashlib.sha256(raw).hexdigest()[:32]

    @property
    def label(self) -> str:
        """How logs name this alert (recipient masked)."""
        return f"{self.incident.id}/{self.channel}/{mask(self.recipient)}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """`sent`: handed to a relay (Twilio, SMTP, broker); `delivered`: the endpoint confirmed."""

    state: Literal["sent", "delivered"]
    provider_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of asking the provider about a sent alert; `sent` means still waiting."""

    state: Literal["sent", "delivered", "failed"]
    detail: str
    final: bool = True  # False: ask again after status_poll_s


class AlertChannel(ABC):
    """Base of the channel plugins. A channel only sends; the outbox records every result."""

    #: seconds between status checks of sent alerts; None: the channel has no status to ask for
    status_poll_s: float | None = None
    #: signs a snapshot file name so its link opens without a login (set by the app when the
    #: review pages serve the snapshots); None: links are the plain file URL
    link_signer: Callable[[str], str] | None = None

    def __init__(self, name: str, config: ChannelConfig, alerts: AlertsConfig):
        self.name = name
        self.config = config
        self.tz: tzinfo | None = alerts.zone()
        self.snapshot_base_url = str(alerts.snapshot_base_url).rstrip("/") \
            if alerts.snapshot_base_url else None

    @property
    def lease_s(self) -> float:
        """How long a send may take before another process may assume it died (several steps
        of one timeout each, plus slack)."""
        return 4 * self.config.timeout_s + 30

    @abstractmethod
    def send(self, delivery: Delivery) -> SendResult:
        """Deliver once; raise TransientError or PermanentError when it did not work."""

    def check(self, delivery: Delivery, now: float) -> CheckResult:
        """Ask the provider what became of a sent alert (only where status_poll_s is set)."""
        raise TypeError(f"{type(self).__name__} has no delivery status to check")

    def close(self) -> None:
        """Release connections; the default channel holds none."""

    def snapshot_url(self, incident: Incident) -> str | None:
        if not (self.snapshot_base_url and incident.snapshot):
            return None
        name = incident.snapshot.rsplit('/', 1)[-1]
        url = f"{self.snapshot_base_url}/{quote(name)}"
        return f"{url}?sig={self.link_signer(name)}" if self.link_signer else url

    def when(self, incident: Incident) -> str:
        return f"{local_time(incident.started_at, self.tz):%H:%M:%S %Y-%m-%d}"

    def headline(self, incident: Incident, test: bool) -> str:
        """One line for SMS, subjects and logs: camera, time, label and confidence."""
        prefix = "TEST ALERT (no danger): " if test else ""
        return (f"{prefix}{incident.label.upper()} detected on camera {incident.camera} at "
                f"{self.when(incident)}, confidence {incident.confidence:.0%}")

    def payload(self, delivery: Delivery) -> dict:
        """The JSON document machine channels (webhook, MQTT) send."""
        i = delivery.incident
        return {
            "type": "gunwatch.alert", "test": delivery.test, "key": delivery.key,
            "incident": {
                "id": i.id, "camera": i.camera, "label": i.label,
                "confidence": round(i.confidence, 4), "box": i.box.as_list(), "update": i.update,
                "started_at": i.started_at,
                "started_at_local": local_time(i.started_at, self.tz).isoformat(timespec="seconds"),
                "event_id": i.event_id, "url": i.url, "snapshot_url": self.snapshot_url(i),
            },
        }


_PHONE = re.compile(r"^\+?\d{7,15}$")
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}\b")
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask(recipient: str) -> str:
    """A recipient as logs and listings show it: +1******4567, g***@example.org, https://host/…"""
    if _PHONE.match(recipient):
        return recipient[:2] + "*" * (len(recipient) - 6) + recipient[-4:]
    if "@" in recipient and "://" not in recipient:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    if "://" in recipient:
        # Webhook URLs often carry a secret in their path (Slack, Teams): show the host only.
        parts = urlsplit(recipient)
        return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"
    return recipient


def redact(text: str) -> str:
    """Mask phone numbers and addresses in a provider's message (Twilio and SMTP servers quote
    the recipient they rejected)."""
    text = _PHONE_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    return _EMAIL_IN_TEXT.sub(lambda m: mask(m.group(0)), text)


def create_channels(alerts: AlertsConfig, only: set[str] | None = None) -> dict[str, AlertChannel]:
    """Instantiate the configured channels through the plugin registry."""
    from .. import registry

    return {name: registry.lookup("alert_channel", cfg.type)(name, cfg, alerts)
            for name, cfg in alerts.channels.items() if only is None or name in only}
