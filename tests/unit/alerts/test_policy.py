"""Backoff, per-camera cooldown, global rate limit, and recipients' schedules and quiet hours."""

from __future__ import annotations

import random
from datetime import datetime, time

import pytest

from gunwatch.alerts.settings import PolicyConfig, RateLimitConfig, RecipientRules, RetryConfig, TimeWindow
from gunwatch.alerts.policy import (IncidentGate, backoff_delay, next_reachable, plan_recipient,
                                    reachable, window_contains)

NIGHT = TimeWindow(start=time(22), end=time(7))
OFFICE = TimeWindow(days=("mon", "tue", "wed", "thu", "fri"), start=time(8), end=time(17))
# 2026-11-23 is a Monday.
MON = datetime(2026, 11, 23)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    return MON.replace(day=23 + day_offset, hour=hour, minute=minute)


def test_backoff_grows_is_capped_and_jittered_downwards():
    retry = RetryConfig(initial_s=2, max_s=30, multiplier=3, jitter=0.25)
    rng = random.Random(1)
    for attempt, base in [(1, 2), (2, 6), (3, 18), (4, 30), (10, 30)]:
        delays = [backoff_delay(attempt, retry, rng) for _ in range(200)]
        assert min(delays) >= base * 0.75 and max(delays) <= base
        assert max(delays) - min(delays) > base * 0.1  # really spread, not one value
    no_jitter = RetryConfig(initial_s=2, max_s=30, jitter=0)
    assert backoff_delay(3, no_jitter) == 8


def test_backoff_honours_retry_after_up_to_the_cap():
    retry = RetryConfig(initial_s=1, max_s=60, jitter=0)
    assert backoff_delay(1, retry, retry_after=20) == 20
    assert backoff_delay(1, retry, retry_after=3600) == 60
    assert backoff_delay(4, retry, retry_after=0.5) == 8


def test_window_same_day_overnight_and_whole_day():
    assert window_contains(OFFICE, at(0, 8)) and not window_contains(OFFICE, at(0, 17))
    assert not window_contains(OFFICE, at(5, 10))          # Saturday
    assert window_contains(NIGHT, at(0, 23)) and window_contains(NIGHT, at(1, 6, 59))
    assert not window_contains(NIGHT, at(1, 7)) and not window_contains(NIGHT, at(1, 21, 59))
    friday_night = TimeWindow(days=("fri",), start=time(22), end=time(6))
    assert window_contains(friday_night, at(5, 3))          # Saturday 03:00 belongs to Friday's
    assert not window_contains(friday_night, at(4, 3))      # Friday 03:00 belongs to Thursday's
    sunday = TimeWindow(days=("sun",), start=time(0), end=time(0))
    assert window_contains(sunday, at(6, 12)) and not window_contains(sunday, at(0, 12))


def test_quiet_hours_win_over_schedule():
    rules = RecipientRules(schedule=(OFFICE,), quiet_hours=(TimeWindow(start=time(12), end=time(13)),))
    assert reachable(rules, at(0, 9))
    assert not reachable(rules, at(0, 12, 30))
    assert not reachable(rules, at(0, 18))
    assert reachable(RecipientRules(), at(3, 3))


def test_next_reachable_finds_the_next_boundary():
    rules = RecipientRules(schedule=(OFFICE,), quiet_hours=(TimeWindow(start=time(12), end=time(13)),))
    assert next_reachable(rules, at(0, 12, 30)) == at(0, 13)
    assert next_reachable(rules, at(0, 18)) == at(1, 8)
    assert next_reachable(rules, at(4, 18)) == at(7, 8)     # Friday evening -> Monday
    assert next_reachable(rules, at(0, 9)) == at(0, 9)
    never = RecipientRules(quiet_hours=(TimeWindow(start=time(0), end=time(0)),))
    assert next_reachable(never, at(0, 9)) is None


def test_plan_recipient_skips_or_defers():
    night_off = RecipientRules(quiet_hours=(NIGHT,))
    now = at(0, 23).timestamp()
    skipped = plan_recipient(night_off, now, None)
    assert skipped.state == "skipped" and "quiet hours" in skipped.reason
    deferring = night_off.model_copy(update={"when_quiet": "defer"})
    deferred = plan_recipient(deferring, now, None)
    assert deferred.state == "queued" and deferred.due_at == at(1, 7).timestamp()
    assert "deferred" in deferred.reason
    assert plan_recipient(deferring, now, None, allow_defer=False).state == "skipped"
    assert plan_recipient(None, now, None).state == "queued"
    noon = at(0, 12).timestamp()
    assert plan_recipient(night_off, noon, None) == plan_recipient(None, noon, None)


def test_camera_cooldown_runs_from_the_last_sighting():
    gate = IncidentGate(PolicyConfig(camera_cooldown_s=60))
    assert gate.check("a", 0) is None
    gate.admit("a", 0)
    assert "camera cooldown" in gate.check("a", 30)
    assert gate.check("b", 30) is None                       # other cameras are independent
    gate.touch("a", 50)                                      # the same gun seen again
    assert gate.check("a", 100) is not None
    assert gate.check("a", 111) is None


def test_global_rate_limit_is_a_sliding_window():
    gate = IncidentGate(PolicyConfig(camera_cooldown_s=0,
                                     rate_limit=RateLimitConfig(max_incidents=3, window_s=100)))
    for t, camera in [(0, "a"), (10, "b"), (20, "c")]:
        assert gate.check(camera, t) is None
        gate.admit(camera, t)
    reason = gate.check("d", 50)
    assert reason.startswith("rate limit") and "max_incidents = 3" in reason
    assert gate.check("d", 100) is None                      # the first one left the window


def test_seeded_gate_remembers_across_restarts():
    gate = IncidentGate(PolicyConfig(camera_cooldown_s=300,
                                     rate_limit=RateLimitConfig(max_incidents=2, window_s=600)))
    gate.seed([("a", 1000.0, 1100.0), ("b", 1050.0, 1050.0)])
    assert "cooldown" in gate.check("a", 1200)
    assert "rate limit" in gate.check("c", 1500)
    assert gate.check("c", 1700) is None


@pytest.mark.parametrize("jitter", [0.0, 1.0])
def test_backoff_never_negative_or_above_cap(jitter):
    retry = RetryConfig(initial_s=0.5, max_s=4, jitter=jitter)
    assert all(0 <= backoff_delay(a, retry) <= 4 for a in range(1, 50))
