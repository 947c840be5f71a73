"""Fixtures for alert delivery against local counterparts: the fake Twilio API (real `twilio`
client), a webhook receiver, an aiosmtpd SMTP server, and the local Mosquitto broker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller

from gunwatch.alerts.channel import create_channels
from gunwatch.alerts.outbox import Outbox, outbox_path
from gunwatch.alerts.worker import DeliveryWorker
from gunwatch.config import GunwatchConfig

from ...support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from ...support.ports import free_port

FROM = "+15550000100"
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883

# Seconds, not minutes: the fault tests exercise backoff without waiting for it.
FAST = {"poll_s": 0.1, "retry": {"initial_s": 0.1, "max_s": 0.4, "jitter": 0.2},
        "policy": {"camera_cooldown_s": 0, "recipient_interval_s": 0,
                   "rate_limit": {"max_incidents": 10000, "window_s": 60}}}


def twilio_channel(kind: str, fake: FakeTwilio, recipients: list, **extra) -> dict:
    return {"type": kind, "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": FROM,
            "recipients": recipients, "api_url": fake.url, "status_poll_s": 0.1, **extra}


def make_config(tmp_path: Path, channels: dict, **alerts) -> GunwatchConfig:
    merged = {**FAST, **alerts, "channels": channels}
    return GunwatchConfig.model_validate({"state_dir": str(tmp_path / "state"), "alerts": merged})


def write_config(tmp_path: Path, config: GunwatchConfig) -> Path:
    """The same config as a YAML file, for a separate `gunwatch` process."""
    raw = config.model_dump(mode="json", exclude_none=True)
    for name, channel in raw["alerts"]["channels"].items():
        for key in ("auth_token", "secret", "password"):
            if key in channel:  # SecretStr dumps as stars
                channel[key] = getattr(config.alerts.channels[name], key).get_secret_value()
    path = tmp_path / "gunwatch.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


class Alerting:
    """Outbox and delivery worker in this process, as the gunwatch service runs them."""

    def __init__(self, config: GunwatchConfig):
        self.config = config
        self.outbox = Outbox(config.alerts, outbox_path(config))
        self.worker = DeliveryWorker(self.outbox, create_channels(config.alerts))

    def start(self) -> Alerting:
        self.worker.start()
        return self

    def records(self) -> dict:
        return {(r.incident_id, r.channel, r.recipient): r for s in self.outbox.stores()
                for r in s.recent(1000)}

    def settled(self) -> bool:
        return self.outbox.open_count() == 0

    def stop(self) -> None:
        self.worker.stop(5)
        self.outbox.close()


@pytest.fixture
def fake_twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def alerting():
    started: list[Alerting] = []

    def start(config: GunwatchConfig, run: bool = True) -> Alerting:
        a = Alerting(config)
        started.append(a)
        return a.start() if run else a

    yield start
    for a in started:
        a.stop()


def mqtt_reachable() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


class Mailbox:
    """aiosmtpd handler: keeps accepted messages, refuses recipients at refused.example.org."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example.org"):
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    port = free_port()   # aiosmtpd's Controller connects to its own port to check start-up: 0 will not do
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()
