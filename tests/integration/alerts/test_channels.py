"""Webhook, MQTT and e-mail delivery against real local counterparts: an HTTP receiver, the
Mosquitto broker, and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes, policy

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gunwatch.domain import BBox, Incident

from ...conftest import need
from ...support.wait import wait_for
from ...support.webhook_receiver import WebhookReceiver
from .conftest import MQTT_HOST, MQTT_PORT, make_config, mqtt_reachable


def incident(n: int = 1, snapshot: str | None = None) -> Incident:
    return Incident(id=f"inc-{n}", camera="Yard", started_at=time.time(), label="gun",
                    confidence=0.88, box=BBox(1, 2, 3, 4), snapshot=snapshot, url="http://nvr/9")


# --- webhook -------------------------------------------------------------------------------

def test_webhook_json_signature_and_idempotency_key(tmp_path, alerting):
    with WebhookReceiver(secret=b"s3cret") as hook:
        a = alerting(make_config(tmp_path, {"hook": {"type": "webhook", "url": hook.url,
                                                     "secret": "s3cret"}}))
        a.outbox.enqueue(incident())
        assert wait_for(a.settled)
        [got] = hook.received
        assert got["signature_ok"]
        assert got["body"]["incident"]["camera"] == "Yard" and got["body"]["test"] is False
        assert got["headers"]["Idempotency-Key"] == got["body"]["key"]
        [record] = a.records().values()
        assert record.state == "delivered"


def test_webhook_5xx_and_429_retry_4xx_fails(tmp_path, alerting):
    with WebhookReceiver() as hook:
        hook.statuses = [500, 429, 204, 400]
        a = alerting(make_config(tmp_path, {"hook": {"type": "webhook", "url": hook.url}}))
        a.outbox.enqueue(incident(1))
        assert wait_for(a.settled)
        a.outbox.enqueue(incident(2))
        assert wait_for(a.settled)
        records = {k[0]: r for k, r in a.records().items()}
        assert records["inc-1"].state == "delivered" and records["inc-1"].attempts == 3
        assert records["inc-2"].state == "failed" and "HTTP 400" in records["inc-2"].reason
        assert len(hook.received) == 1 and hook.received[0]["signature_ok"]


def test_webhook_timeout_is_retried(tmp_path, alerting):
    with WebhookReceiver() as hook:
        hook.delay_s = 0.6
        a = alerting(make_config(tmp_path, {"hook": {"type": "webhook", "url": hook.url,
                                                     "timeout_s": 0.2}}))
        a.outbox.enqueue(incident())
        assert wait_for(lambda: any(r.attempts >= 1 and r.state == "queued"
                                    for r in a.records().values()), 5)
        [record] = a.records().values()
        assert "Timeout" in record.reason
        hook.delay_s = 0
        assert wait_for(a.settled)


# --- MQTT ----------------------------------------------------------------------------------

@pytest.fixture
def subscriber():
    need(mqtt_reachable(), f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT} (apt-get install mosquitto)")
    received: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, msg: received.append(msg)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_connect = lambda c, u, f, rc, p: c.subscribe("gunwatch-test/#", qos=1)
    client.connect(MQTT_HOST, MQTT_PORT)
    client.loop_start()
    assert subscribed.wait(5)
    yield received
    client.disconnect()
    client.loop_stop()


@pytest.mark.mqtt
def test_mqtt_publish_qos1_reaches_a_subscriber(tmp_path, alerting, subscriber):
    channel = {"type": "mqtt", "host": MQTT_HOST, "port": MQTT_PORT,
               "topic": f"gunwatch-test/{tmp_path.name}/{{camera}}"}
    a = alerting(make_config(tmp_path, {"bus": channel}))
    a.outbox.enqueue(incident())
    assert wait_for(a.settled) and wait_for(lambda: len(subscriber) == 1, 5)
    [msg] = subscriber
    assert msg.topic == f"gunwatch-test/{tmp_path.name}/Yard" and msg.qos == 1
    payload = json.loads(msg.payload)
    assert payload["incident"]["id"] == "inc-1" and payload["incident"]["confidence"] == 0.88
    [record] = a.records().values()
    assert record.state == "sent" and record.provider_id.startswith("mid ")


@pytest.mark.mqtt
def test_mqtt_broker_unreachable_is_retried(tmp_path, alerting):
    need(mqtt_reachable(), f"no MQTT broker at {MQTT_HOST}:{MQTT_PORT}")
    a = alerting(make_config(tmp_path, {"bus": {"type": "mqtt", "host": "127.0.0.1", "port": 9}}))
    a.outbox.enqueue(incident())
    assert wait_for(lambda: next(iter(a.records().values())).attempts >= 2, 5)
    [record] = a.records().values()
    assert record.state in ("queued", "sending") and "cannot reach MQTT broker" in record.reason


# --- e-mail --------------------------------------------------------------------------------

def test_email_with_snapshot_attached(tmp_path, alerting, smtp_server, caplog):
    mailbox, port = smtp_server
    jpeg = tmp_path / "inc-1.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0 annotated snapshot \xff\xd9")
    channel = {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
               "from_address": "gunwatch@example.org",
               "recipients": ["guard@example.org", "nobody@refused.example.org"]}
    a = alerting(make_config(tmp_path, {"mail": channel}))
    a.outbox.enqueue(incident(snapshot=str(jpeg)))
    assert wait_for(a.settled)
    [(rcpt, raw)] = mailbox.messages
    assert rcpt == ["guard@example.org"]
    msg = message_from_bytes(raw, policy=policy.default)
    assert "GUN detected on camera Yard" in msg["Subject"]
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content() == jpeg.read_bytes()
    records = {k[2]: r for k, r in a.records().items()}
    assert records["guard@example.org"].state == "sent"
    refused = records["nobody@refused.example.org"]
    assert refused.state == "failed" and "550" in refused.reason and refused.attempts == 1
    # the worker logs the failure just after storing it, so `settled` can come first
    assert wait_for(lambda: "n***@refused.example.org" in caplog.text)
    assert "nobody@" not in caplog.text
