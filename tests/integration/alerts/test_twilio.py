"""SMS and voice through the real `twilio` client against the local fake Twilio API."""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET

from gunwatch.domain import BBox, Incident

from ...support.fake_twilio import AUTH_TOKEN
from ...support.wait import wait_for
from .conftest import FROM, make_config, twilio_channel

A, B, C = "+15550000001", "+15550000002", "+15550000003"


def incident(n: int = 1, camera: str = "Front door", update: int = 0, confidence: float = 0.91,
             snapshot: str | None = None) -> Incident:
    return Incident(id=f"inc-{n}", camera=camera, started_at=time.time(), label="gun",
                    confidence=confidence, box=BBox(5, 5, 50, 40), update=update,
                    snapshot=snapshot, url=f"http://nvr.local/events/{n}")


def test_sms_and_mms_fields_and_delivery_receipt(tmp_path, fake_twilio, alerting):
    config = make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A, B])},
                         snapshot_base_url="https://cams.example.org/snapshots")
    a = alerting(config)
    result = a.outbox.enqueue(incident(snapshot="/var/lib/gunwatch/snapshots/inc-1.jpg"))
    assert result.action == "alerting" and result.alerts == 2
    assert wait_for(a.settled)
    sms = fake_twilio.sms()
    assert sorted(m.to for m in sms) == [A, B]
    for m in sms:
        assert m.from_ == FROM
        assert "camera Front door" in m.body and "confidence 91%" in m.body
        assert "http://nvr.local/events/1" in m.body
        assert m.media_urls == ["https://cams.example.org/snapshots/inc-1.jpg"]
    records = a.records()
    assert {r.state for r in records.values()} == {"delivered"}
    assert {r.provider_id for r in records.values()} == {m.sid for m in sms}


def test_no_media_url_without_a_public_base(tmp_path, fake_twilio, alerting):
    a = alerting(make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A])}))
    a.outbox.enqueue(incident(snapshot="/x/inc-1.jpg"))
    assert wait_for(a.settled)
    assert fake_twilio.sms()[0].media_urls == []


def test_429_and_500_are_retried_with_backoff(tmp_path, fake_twilio, alerting):
    fake_twilio.fail_next(1, 429, 20429, "Too Many Requests")
    fake_twilio.fail_next(1, 500, 20500, "Internal Server Error")
    a = alerting(make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A])}))
    a.outbox.enqueue(incident())
    assert wait_for(a.settled)
    [record] = a.records().values()
    assert record.state == "delivered" and record.attempts == 3
    statuses = [status for _, status, _ in fake_twilio.attempts]
    assert statuses == [429, 500, 201]
    gaps = [b[0] - a_[0] for a_, b in zip(fake_twilio.attempts, fake_twilio.attempts[1:])]
    assert gaps[0] >= 0.08 * 0.99 and gaps[1] >= 0.16 * 0.99   # initial 0.1 s, doubled, jitter 20 %
    assert len(fake_twilio.sms()) == 1


def test_invalid_number_fails_once_with_a_clear_line(tmp_path, fake_twilio, alerting, caplog):
    fake_twilio.invalid_numbers.add(B)
    a = alerting(make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A, B])}))
    with caplog.at_level(logging.INFO):
        a.outbox.enqueue(incident())
        assert wait_for(a.settled)
        # the worker logs the failure just after storing it, so `settled` can come first
        assert wait_for(lambda: any(r.levelno == logging.ERROR for r in caplog.records))
    records = a.records()
    assert records[("inc-1", "sms", A)].state == "delivered"
    failed = records[("inc-1", "sms", B)]
    assert failed.state == "failed" and failed.attempts == 1 and "21211" in failed.reason
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "NOT delivered" in line.getMessage() and "21211" in line.getMessage()
    assert "+1******0002" in line.getMessage()
    assert B not in caplog.text and AUTH_TOKEN not in caplog.text     # masked, no secrets
    assert a.worker.failed == 1


def test_wrong_auth_token_is_permanent(tmp_path, fake_twilio, alerting):
    channel = twilio_channel("twilio_sms", fake_twilio, [A], auth_token="wrong-token")
    a = alerting(make_config(tmp_path, {"sms": channel}))
    a.outbox.enqueue(incident())
    assert wait_for(a.settled)
    [record] = a.records().values()
    assert record.state == "failed" and "20003" in record.reason and "auth_token" in record.reason
    assert fake_twilio.sms() == []


def test_update_before_sending_is_folded_and_after_sending_not_resent(tmp_path, fake_twilio, alerting):
    a = alerting(make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A])}), run=False)
    a.outbox.enqueue(incident(confidence=0.61))
    folded = a.outbox.enqueue(incident(update=1, confidence=0.97))
    assert (folded.action, folded.alerts) == ("folded", 1)
    a.start()
    assert wait_for(a.settled)
    [sms] = fake_twilio.sms()
    assert "confidence 97%" in sms.body
    late = a.outbox.enqueue(incident(update=2, confidence=0.99))
    assert late.action == "folded" and late.alerts == 0
    time.sleep(0.3)
    assert len(fake_twilio.sms()) == 1


def test_voice_call_twiml_and_escalation_until_someone_answers(tmp_path, fake_twilio, alerting):
    fake_twilio.call_outcomes[A] = ("no-answer", None)
    fake_twilio.call_outcomes[B] = ("in-progress", "human")
    voice = twilio_channel("twilio_voice", fake_twilio, [A, B, C], escalate=True, ring_timeout_s=25)
    a = alerting(make_config(tmp_path, {"voice": voice}))
    a.outbox.enqueue(incident(camera="Loading bay"))
    assert wait_for(a.settled)
    calls = fake_twilio.calls()
    assert [c.to for c in calls] == [A, B]                  # C is never called: B answered
    say = ET.fromstring(calls[0].twiml).find("Say")
    assert say.get("loop") == "3" and "camera Loading bay" in say.text
    assert calls[0].timeout == "25" and calls[0].machine_detection is None
    records = a.records()
    assert records[("inc-1", "voice", A)].state == "failed"
    assert records[("inc-1", "voice", B)].state == "delivered"
    assert records[("inc-1", "voice", C)].state == "skipped"
    assert a.worker.failed == 0                              # escalated, not lost


def test_answering_machine_does_not_count_with_machine_detection(tmp_path, fake_twilio, alerting):
    fake_twilio.call_outcomes[A] = ("completed", "machine_end_beep")
    voice = twilio_channel("twilio_voice", fake_twilio, [A, B], escalate=True, machine_detection=True)
    a = alerting(make_config(tmp_path, {"voice": voice}))
    a.outbox.enqueue(incident())
    assert wait_for(a.settled)
    assert [c.to for c in fake_twilio.calls()] == [A, B]
    assert fake_twilio.calls()[0].machine_detection == "Enable"
    assert "machine_end_beep" in a.records()[("inc-1", "voice", A)].reason


def test_without_escalation_everyone_is_called(tmp_path, fake_twilio, alerting):
    a = alerting(make_config(tmp_path, {"voice": twilio_channel("twilio_voice", fake_twilio, [A, B])}))
    a.outbox.enqueue(incident())
    assert wait_for(a.settled)
    assert sorted(c.to for c in fake_twilio.calls()) == [A, B]


def test_alert_sink_sends_opened_folds_updated_ignores_closed(tmp_path, fake_twilio):
    from gunwatch.alerts.sink import AlertSink
    from gunwatch.domain import Confirmation, Frame

    sink = AlertSink(make_config(tmp_path, {"sms": twilio_channel("twilio_sms", fake_twilio, [A])}))
    try:
        frame = Frame(camera="Front door", image=None, at=time.time())
        opened = incident(confidence=0.7)
        sink.handle(frame, [], [Confirmation("opened", opened)])
        sink.handle(frame, [], [Confirmation("updated", incident(update=1, confidence=0.8)),
                                Confirmation("closed", incident(update=1, confidence=0.8))])
        assert wait_for(lambda: sink.outbox.open_count() == 0)
        assert len(fake_twilio.sms()) == 1
    finally:
        sink.close()
