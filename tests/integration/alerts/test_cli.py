"""`gunwatch alert test` and `gunwatch alerts` as an admin runs them: a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from gunwatch.domain import BBox, Incident

from ...conftest import need
from ...support.wait import wait_for
from ...support.webhook_receiver import WebhookReceiver
from .conftest import (MQTT_HOST, MQTT_PORT, Alerting, make_config, mqtt_reachable, twilio_channel,
                       write_config)

A, B = "+15550000001", "+15550000002"


def gunwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.mqtt
def test_alert_test_goes_through_every_channel(tmp_path, fake_twilio, smtp_server):
    need(mqtt_reachable(), f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}")
    fake_twilio.invalid_numbers.add(B)
    mailbox, port = smtp_server
    with WebhookReceiver(secret=b"k") as hook:
        config = make_config(tmp_path, {
            "sms": twilio_channel("twilio_sms", fake_twilio, [A, B]),
            "voice": twilio_channel("twilio_voice", fake_twilio, [A], escalate=True),
            "hook": {"type": "webhook", "url": hook.url, "secret": "k"},
            "bus": {"type": "mqtt", "host": MQTT_HOST, "port": MQTT_PORT,
                    "topic": "gunwatch-test/cli"},
            "mail": {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
                     "from_address": "gw@example.org", "recipients": ["guard@example.org"]}})
        path = write_config(tmp_path, config)
        result = gunwatch("alert", "test", "--config", str(path), "--camera", "Gate 3")
        assert result.returncode == 5, result.stderr            # one number is invalid
        lines = result.stdout.splitlines()
        assert len(lines) == 6
        assert any(line.startswith("sms") and "+1******0001" in line and "sent" in line
                   and "id SM" in line for line in lines)
        [bad] = [line for line in lines if "+1******0002" in line]
        assert "FAILED (permanent)" in bad and "21211" in bad
        assert any(line.startswith("voice") and "id CA" in line for line in lines)
        assert any(line.startswith("hook") and "delivered" in line for line in lines)
        assert any(line.startswith("bus") and "sent" in line for line in lines)
        assert any(line.startswith("mail") and "sent" in line for line in lines)
        assert "5 of 6 test messages accepted" in result.stderr
        assert all("TEST ALERT" in m.body and "camera Gate 3" in m.body for m in fake_twilio.sms())
        assert "This is a test" in fake_twilio.calls()[0].twiml
        assert hook.received[0]["body"]["test"] is True and hook.received[0]["signature_ok"]
        assert len(mailbox.messages) == 1
        assert B not in result.stdout + result.stderr
        # Only the channels asked for.
        only = gunwatch("alert", "test", "--config", str(path), "--channel", "hook")
        assert only.returncode == 0 and len(only.stdout.splitlines()) == 1
        unknown = gunwatch("alert", "test", "--config", str(path), "--channel", "pager")
        assert unknown.returncode == 2 and "choose from" in unknown.stderr


def test_alerts_lists_states_and_why(tmp_path, fake_twilio):
    fake_twilio.invalid_numbers.add(B)
    config = make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A, B])})
    path = write_config(tmp_path, config)
    empty = gunwatch("alerts", "--config", str(path))
    assert empty.returncode == 0 and "no alerts yet" in empty.stderr
    alerting = Alerting(config).start()
    alerting.outbox.enqueue(Incident(id="inc-1", camera="Lobby", started_at=time.time(),
                                     label="gun", confidence=0.9, box=BBox(0, 0, 1, 1)))
    assert wait_for(alerting.settled)
    alerting.stop()

    listing = gunwatch("alerts", "--config", str(path))
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:3] == ["ID", "QUEUED", "CAMERA"] and len(rows) == 2
    [ok] = [r for r in rows if "+1******0001" in r]
    assert "delivered" in ok and "carrier confirmed" in ok and "SM" in ok
    [failed] = [r for r in rows if "+1******0002" in r]
    assert "failed" in failed and "21211" in failed
    assert B not in listing.stdout

    only_failed = gunwatch("alerts", "--config", str(path), "--state", "failed", "--json")
    [record] = [json.loads(line) for line in only_failed.stdout.splitlines()]
    assert record["state"] == "failed" and record["recipient"] == "+1******0002"
    assert record["attempts"] == 1 and "21211" in record["reason"]
