"""The outbox state machine on a temporary SQLite file, with a hand-driven clock."""

from __future__ import annotations

import logging
import os
import stat
from datetime import datetime

import pytest

from gunwatch.alerts.channel import CheckResult, SendResult, mask, redact
from gunwatch.alerts.config import AlertsConfig
from gunwatch.alerts.outbox import Outbox, Store, owner_alive, owner_id
from gunwatch.domain import BBox, Incident

SID = "AC" + "0123456789abcdef" * 2
A, B, C = "+15550000001", "+15550000002", "+15550000003"


class Clock:
    def __init__(self, t: float = datetime(2026, 11, 23, 12).timestamp()):
        self.t = t

    def __call__(self) -> float:
        return self.t


def twilio(kind: str, recipients, **extra) -> dict:
    return {"type": kind, "account_sid": SID, "auth_token": "t", "from_number": "+15559999999",
            "recipients": recipients, **extra}


def config(channels: dict, **policy) -> AlertsConfig:
    policy = {"camera_cooldown_s": 0, "recipient_interval_s": 0, **policy}
    return AlertsConfig.model_validate({"channels": channels, "policy": policy})


def incident(n: int = 1, camera: str = "gate", update: int = 0, confidence: float = 0.8) -> Incident:
    return Incident(id=f"inc-{n}", camera=camera, started_at=1.0e9 + n, label="gun",
                    confidence=confidence, box=BBox(10, 20, 30, 40), update=update,
                    snapshot=f"/snap/{n}.jpg", url=f"http://nvr/{n}")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sms_outbox(tmp_path, clock):
    outbox = Outbox(config({"sms": twilio("twilio_sms", [A, B])}), tmp_path / "alerts.sqlite", clock)
    yield outbox
    outbox.close()


def claim(outbox: Outbox, channel: str = "sms", clock=None, spacing: float = 0):
    return outbox.disk.claim(channel, clock() if clock else 2e9, owner_id(), 60, spacing)


def states(outbox: Outbox) -> dict[tuple[str, str, str], str]:
    return {(r.incident_id, r.channel, r.recipient): r.state for r in outbox.disk.recent(1000)}


def test_enqueue_writes_one_row_per_channel_and_recipient_before_sending(tmp_path, clock):
    cfg = config({"sms": twilio("twilio_sms", [A, B]), "hook": {"type": "webhook", "url": "http://h/x"}})
    outbox = Outbox(cfg, tmp_path / "state" / "alerts.sqlite", clock)
    result = outbox.enqueue(incident())
    assert (result.action, result.alerts, result.durable) == ("alerting", 3, True)
    assert set(states(outbox).values()) == {"queued"}
    assert outbox.open_count() == 3
    # The file holds phone numbers: only its owner may read it.
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "alerts.sqlite").st_mode) == 0o600
    outbox.close()
    # Written before any delivery, and durable: a second process sees them.
    again = Store(tmp_path / "state" / "alerts.sqlite", readonly=True)
    assert len(again.recent(10)) == 3
    again.close()


def test_same_incident_twice_is_one_alert(sms_outbox):
    sms_outbox.enqueue(incident())
    result = sms_outbox.enqueue(incident())
    assert result.action == "duplicate" and result.alerts == 0
    assert len(states(sms_outbox)) == 2


def test_update_is_folded_into_unsent_rows_and_not_resent_after(sms_outbox, clock):
    sms_outbox.enqueue(incident(confidence=0.7))
    first = claim(sms_outbox, clock=clock)
    sms_outbox.disk.record_sent(first.row_id, SendResult("sent", "SM1"), clock(), None)
    folded = sms_outbox.enqueue(incident(update=1, confidence=0.95))
    assert (folded.action, folded.alerts) == ("folded", 1)
    assert "1 alerts already sent" in folded.reason
    second = claim(sms_outbox, clock=clock)
    assert second.recipient != first.recipient
    assert second.incident.confidence == 0.95 and second.incident.update == 1
    # An older update arriving late changes nothing.
    assert sms_outbox.enqueue(incident(update=1, confidence=0.5)).action == "duplicate"
    assert sms_outbox.enqueue(incident(update=0)).action == "duplicate"
    assert claim(sms_outbox, clock=clock) is None


def test_claim_marks_sending_and_counts_attempts(sms_outbox, clock):
    sms_outbox.enqueue(incident())
    d = claim(sms_outbox, clock=clock)
    assert d.attempt == 1 and d.incident.camera == "gate" and d.incident.box == BBox(10, 20, 30, 40)
    assert states(sms_outbox)[("inc-1", "sms", d.recipient)] == "sending"
    sms_outbox.disk.record_retry(d.row_id, "HTTP 503", clock() + 10, clock())
    other = claim(sms_outbox, clock=clock)
    assert other.recipient != d.recipient
    assert claim(sms_outbox, clock=clock) is None           # the retry is not due yet
    clock.t += 10
    again = claim(sms_outbox, clock=clock)
    assert again.row_id == d.row_id and again.attempt == 2


def test_per_recipient_order_and_spacing(tmp_path, clock):
    outbox = Outbox(config({"sms": twilio("twilio_sms", [A])}), tmp_path / "o.sqlite", clock)
    outbox.enqueue(incident(1, "cam1"))
    outbox.enqueue(incident(2, "cam2"))
    first = outbox.disk.claim("sms", clock(), owner_id(), 60, 30)
    assert first.incident.id == "inc-1"
    # While the first is in flight or retrying, the second waits: alerts arrive in order.
    assert outbox.disk.claim("sms", clock(), owner_id(), 60, 30) is None
    outbox.disk.record_retry(first.row_id, "down", clock() + 5, clock())
    # The worker sleeps until the head of the line is due, not until the (blocked) second row.
    assert outbox.disk.next_due("sms", 30) == pytest.approx(clock() + 5)
    clock.t += 5
    assert outbox.disk.claim("sms", clock(), owner_id(), 60, 30).row_id == first.row_id
    outbox.disk.record_sent(first.row_id, SendResult("sent", "SM1"), clock(), None)
    # Sent: the next one waits for the recipient interval.
    assert outbox.disk.claim("sms", clock() + 29, owner_id(), 60, 30) is None
    assert outbox.disk.next_due("sms", 30) == pytest.approx(clock() + 30)
    assert outbox.disk.claim("sms", clock() + 30, owner_id(), 60, 30).incident.id == "inc-2"
    outbox.close()


def test_status_checks_and_final_states(sms_outbox, clock):
    sms_outbox.enqueue(incident())
    d = claim(sms_outbox, clock=clock)
    sms_outbox.disk.record_sent(d.row_id, SendResult("sent", "SM1"), clock(), clock() + 5)
    assert sms_outbox.disk.due_check("sms", clock()) is None
    due = sms_outbox.disk.due_check("sms", clock() + 5)
    assert due.provider_id == "SM1" and due.sent_at == clock()
    sms_outbox.disk.record_check(d.row_id, CheckResult("sent", "queued", final=False), clock(), clock() + 10)
    sms_outbox.disk.record_check(d.row_id, CheckResult("delivered", "carrier confirmed"), clock(), None)
    assert states(sms_outbox)[("inc-1", "sms", d.recipient)] == "delivered"
    e = claim(sms_outbox, clock=clock)
    sms_outbox.disk.record_failed(e.row_id, "permanent error: 21211", clock())
    record = {r.recipient: r for r in sms_outbox.disk.recent(10)}[e.recipient]
    assert record.state == "failed" and "21211" in record.reason
    assert sms_outbox.open_count() == 0


def test_voice_escalation_chain(tmp_path, clock):
    cfg = config({"voice": twilio("twilio_voice", [A, B, C], escalate=True)})
    outbox = Outbox(cfg, tmp_path / "o.sqlite", clock)
    outbox.enqueue(incident())
    assert states(outbox) == {("inc-1", "voice", A): "queued", ("inc-1", "voice", B): "held",
                              ("inc-1", "voice", C): "held"}
    first = outbox.disk.claim("voice", clock(), owner_id(), 60, 0)
    assert first.recipient == A
    assert outbox.disk.claim("voice", clock(), owner_id(), 60, 0) is None  # B only if A fails
    outbox.disk.record_sent(first.row_id, SendResult("sent", "CA1"), clock(), clock())
    escalated = outbox.disk.record_check(first.row_id, CheckResult("failed", "no-answer"), clock(), None)
    assert escalated
    second = outbox.disk.claim("voice", clock(), owner_id(), 60, 0)
    assert second.recipient == B
    outbox.disk.record_sent(second.row_id, SendResult("sent", "CA2"), clock(), clock())
    outbox.disk.record_check(second.row_id, CheckResult("delivered", "answered"), clock(), None)
    by_recipient = {r.recipient: r for r in outbox.disk.recent(10)}
    assert by_recipient[C].state == "skipped" and mask(B) in by_recipient[C].reason
    assert outbox.open_count() == 0
    outbox.close()


def test_chain_skips_numbers_outside_their_schedule(tmp_path, clock):
    night = {"to": A, "schedule": [{"start": "00:00", "end": "06:00"}]}
    cfg = config({"voice": twilio("twilio_voice", [night, B, C], escalate=True)})
    outbox = Outbox(cfg, tmp_path / "o.sqlite", clock)          # the clock says noon
    outbox.enqueue(incident())
    assert states(outbox) == {("inc-1", "voice", A): "skipped", ("inc-1", "voice", B): "queued",
                              ("inc-1", "voice", C): "held"}
    outbox.close()


def test_permanent_failure_in_a_chain_moves_on(tmp_path, clock):
    outbox = Outbox(config({"voice": twilio("twilio_voice", [A, B], escalate=True)}),
                    tmp_path / "o.sqlite", clock)
    outbox.enqueue(incident())
    first = outbox.disk.claim("voice", clock(), owner_id(), 60, 0)
    assert outbox.disk.record_failed(first.row_id, "21211 invalid number", clock())
    assert outbox.disk.claim("voice", clock(), owner_id(), 60, 0).recipient == B
    outbox.close()


def test_rows_left_sending_by_a_dead_process_are_requeued(sms_outbox, clock):
    sms_outbox.enqueue(incident())
    host = owner_id().rpartition(":")[0]
    dead = sms_outbox.disk.claim("sms", clock(), f"{host}:999999999", 60, 0)
    alive = sms_outbox.disk.claim("sms", clock(), owner_id(), 60, 0)
    assert not owner_alive(f"{host}:999999999") and owner_alive(owner_id())
    assert owner_alive("some-other-host:1")                    # unknown: trust the lease
    assert sms_outbox.disk.requeue_orphans(clock(), owner_alive) == [dead.row_id]
    record = {r.id: r for r in sms_outbox.disk.recent(10)}
    assert record[dead.row_id].state == "queued" and "interrupted" in record[dead.row_id].reason
    assert record[alive.row_id].state == "sending"
    # After its lease, even a row of a live process is taken back.
    assert sms_outbox.disk.requeue_orphans(clock() + 61, owner_alive) == [alive.row_id]


def test_cooldown_and_rate_limit_record_but_do_not_send(tmp_path, clock, caplog):
    cfg = config({"sms": twilio("twilio_sms", [A])}, camera_cooldown_s=300,
                 rate_limit={"max_incidents": 2, "window_s": 3600})
    path = tmp_path / "o.sqlite"
    outbox = Outbox(cfg, path, clock)
    assert outbox.enqueue(incident(1, "gate")).action == "alerting"
    clock.t += 60
    with caplog.at_level(logging.WARNING):
        cooled = outbox.enqueue(incident(2, "gate"))
    assert cooled.action == "suppressed" and "camera cooldown" in cooled.reason
    assert "incident=inc-2" in caplog.text
    # The same gun seen again keeps the camera cooling down.
    clock.t += 200
    outbox.enqueue(incident(1, "gate", update=1))
    clock.t += 200
    assert outbox.enqueue(incident(3, "gate")).action == "suppressed"
    assert outbox.enqueue(incident(4, "yard")).action == "alerting"
    limited = outbox.enqueue(incident(5, "door"))
    assert limited.action == "suppressed" and limited.reason.startswith("rate limit")
    record = {r.incident_id: r for r in outbox.disk.recent(10)}
    assert record["inc-5"].state == "skipped" and "rate limit" in record["inc-5"].reason
    outbox.close()
    # A restart remembers both limits.
    reopened = Outbox(cfg, path, clock)
    assert reopened.enqueue(incident(6, "gate")).action == "suppressed"
    reopened.close()


def test_quiet_hours_at_enqueue(tmp_path, clock):
    clock.t = datetime(2026, 11, 23, 23, 30).timestamp()
    sleeper = {"to": A, "quiet_hours": [{"start": "22:00", "end": "07:00"}], "when_quiet": "defer"}
    skipper = {"to": B, "quiet_hours": [{"start": "22:00", "end": "07:00"}]}
    cfg = config({"sms": twilio("twilio_sms", [sleeper, skipper, C])})
    outbox = Outbox(cfg, tmp_path / "o.sqlite", clock)
    outbox.enqueue(incident())
    record = {r.recipient: r for r in outbox.disk.recent(10)}
    assert record[A].state == "queued" and "deferred" in record[A].reason
    assert record[B].state == "skipped" and record[C].state == "queued"
    assert claim(outbox, clock=clock).recipient == C
    assert claim(outbox, clock=clock) is None
    morning = datetime(2026, 11, 24, 7).timestamp()
    assert outbox.disk.claim("sms", morning, owner_id(), 60, 0).recipient == A
    outbox.close()


def test_rows_of_removed_channels_fail_visibly(sms_outbox, clock):
    sms_outbox.enqueue(incident())
    assert sms_outbox.disk.fail_unknown_channels({"voice"}, clock()) == 2
    assert all("no longer configured" in r.reason for r in sms_outbox.disk.recent(10))


def test_prune_keeps_open_alerts(sms_outbox, clock):
    sms_outbox.enqueue(incident())
    d = claim(sms_outbox, clock=clock)
    sms_outbox.disk.record_failed(d.row_id, "x", clock())
    assert sms_outbox.disk.prune(clock() + 1) == 1
    assert [r.state for r in sms_outbox.disk.recent(10)] == ["queued"]


def test_unwritable_outbox_falls_back_to_memory(tmp_path, clock, caplog):
    (tmp_path / "not-a-dir").write_text("a file where the state folder should be")
    with caplog.at_level(logging.ERROR):
        outbox = Outbox(config({"sms": twilio("twilio_sms", [A])}), tmp_path / "not-a-dir" / "o.sqlite",
                        clock)
    assert "cannot open the alert outbox" in caplog.text and "not-a-dir" in caplog.text
    assert outbox.disk is None and not outbox.durable
    result = outbox.enqueue(incident())
    assert result.action == "alerting" and not result.durable
    [store] = outbox.stores()
    assert store.claim("sms", clock(), owner_id(), 60, 0).recipient == A
    # Once the place can be written, new incidents are stored durably again.
    (tmp_path / "not-a-dir").unlink()
    (tmp_path / "not-a-dir").mkdir()
    assert not outbox.enqueue(incident(2)).durable         # not tried again before REOPEN_S
    clock.t += 60
    assert outbox.enqueue(incident(3)).durable
    assert outbox.enqueue(incident(2, update=1)).action == "folded"   # updates follow their incident
    assert len(outbox.stores()) == 2
    outbox.close()


def test_mask():
    assert mask("+15551234567") == "+1******4567"
    assert mask("guard@example.org") == "g***@example.org"
    assert mask("https://hooks.example.org:8443/services/T0/B0/secret") == "https://hooks.example.org:8443/…"
    assert mask("gunwatch/alerts/gate") == "gunwatch/alerts/gate"
    assert redact("The 'To' number +15551234567 is not valid") == "The 'To' number +1******4567 is not valid"
    assert redact("550 5.1.1 <guard.x@mail.example.org>: no such user") == \
        "550 5.1.1 <g***@mail.example.org>: no such user"
