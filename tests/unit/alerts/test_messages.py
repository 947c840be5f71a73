"""What the channels say: SMS text, spoken TwiML, e-mail, and the JSON of webhook and MQTT."""

from __future__ import annotations

import hashlib
import hmac
import xml.etree.ElementTree as ET
from datetime import datetime

from gunwatch.alerts.channel import Delivery, create_channels
from gunwatch.alerts.config import AlertsConfig
from gunwatch.alerts.webhook import retry_after, sign
from gunwatch.domain import BBox, Incident

SID = "AC" + "0123456789abcdef" * 2
STARTED = datetime(2026, 11, 23, 14, 3, 27).timestamp()  # a Monday, local time


def channels(tmp_path):
    alerts = AlertsConfig.model_validate({
        "snapshot_base_url": "https://cams.example.org/snaps/",
        "channels": {
            "sms": {"type": "twilio_sms", "account_sid": SID, "auth_token": "t",
                    "from_number": "+15559999999", "recipients": ["+15550000001"]},
            "voice": {"type": "twilio_voice", "account_sid": SID, "auth_token": "t",
                      "from_number": "+15559999999", "recipients": ["+15550000001"], "repeat": 4,
                      "voice": "Polly.Joanna"},
            "mail": {"type": "email", "host": "localhost", "from_address": "gw@example.org",
                     "recipients": ["guard@example.org"]},
            "hook": {"type": "webhook", "url": "http://127.0.0.1:9/x"}}})
    return create_channels(alerts)


def delivery(channel: str, recipient: str, snapshot: str | None = None, test: bool = False,
             camera: str = "Front <door> & gate") -> Delivery:
    i = Incident(id="inc-7", camera=camera, started_at=STARTED, label="gun", confidence=0.934,
                 box=BBox(1, 2, 3, 4), snapshot=snapshot, url="http://nvr.local/event/42")
    return Delivery(row_id=1, incident=i, channel=channel, recipient=recipient, test=test)


def test_sms_text_has_camera_time_confidence_and_link(tmp_path):
    sms = channels(tmp_path)["sms"]
    text = sms.text(delivery("sms", "+15550000001"))
    assert text == ("gunwatch: GUN detected on camera Front <door> & gate at 14:03:27 2026-11-23, "
                    "confidence 93%. http://nvr.local/event/42")
    assert len(text) <= 160
    assert sms.text(delivery("sms", "x", test=True)).startswith("gunwatch: TEST ALERT (no danger)")


def test_snapshot_url_is_the_base_plus_the_file_name(tmp_path):
    sms = channels(tmp_path)["sms"]
    d = delivery("sms", "+15550000001", snapshot="/var/lib/gunwatch/snapshots/gate 1.jpg")
    assert sms.snapshot_url(d.incident) == "https://cams.example.org/snaps/gate%201.jpg"
    assert sms.snapshot_url(delivery("sms", "x").incident) is None


def test_twiml_repeats_camera_and_time_and_escapes_names(tmp_path):
    voice = channels(tmp_path)["voice"]
    twiml = voice.twiml(delivery("voice", "+15550000001"))
    say = ET.fromstring(twiml).find("Say")        # well-formed XML despite < and & in the name
    assert say.get("loop") == "4" and say.get("voice") == "Polly.Joanna"
    assert "camera Front <door> & gate" in say.text and "14:03" in say.text and "Monday" in say.text


def test_email_has_subject_body_attachment_and_a_stable_message_id(tmp_path):
    mail = channels(tmp_path)["mail"]
    jpeg = tmp_path / "inc-7.jpg"
    jpeg.write_bytes(b"\xff\xd8 fake jpeg \xff\xd9")
    d = delivery("mail", "guard@example.org", snapshot=str(jpeg))
    msg = mail.message(d)
    assert msg["Subject"].startswith("[gunwatch] GUN detected on camera Front <door> & gate")
    assert msg["Message-ID"] == mail.message(d)["Message-ID"] == f"<{d.key}@gunwatch>"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "inc-7.jpg" and attachment.get_content() == jpeg.read_bytes()
    assert "http://nvr.local/event/42" in msg.get_body().get_content()
    jpeg.unlink()
    gone = mail.message(d)
    assert not list(gone.iter_attachments()) and "no longer exists" in gone.get_body().get_content()


def test_payload_and_signature(tmp_path):
    hook = channels(tmp_path)["hook"]
    d = delivery("hook", "http://127.0.0.1:9/x")
    payload = hook.payload(d)
    assert payload["key"] == d.key and payload["incident"]["camera"] == "Front <door> & gate"
    assert payload["incident"]["confidence"] == 0.934 and payload["incident"]["box"] == [1, 2, 3, 4]
    assert payload["incident"]["started_at_local"].startswith("2026-11-23T14:03:27")
    body = b'{"a":1}'
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"k", "1700000000", body) == f"sha256={expected}"


def test_idempotency_key_depends_on_incident_channel_and_recipient():
    a = delivery("sms", "+15550000001")
    assert a.key == delivery("sms", "+15550000001", test=True).key
    assert a.key != delivery("sms", "+15550000002").key != delivery("voice", "+15550000001").key


def test_retry_after_header():
    assert retry_after("7") == 7 and retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0
