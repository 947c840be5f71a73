"""Alert policies: retry backoff, per-camera cooldown, global rate limit, recipient schedules."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Iterable

from .settings import DAYS, PolicyConfig, RecipientRules, RetryConfig, TimeWindow


def backoff_delay(attempt: int, retry: RetryConfig, rng: random.Random | None = None,
                  retry_after: float | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first attempt failed).

    Exponential, capped at max_s, shortened by up to `jitter` at random ("equal jitter") so that
    many alerts failing together do not all come back at the same instant. A server's own
    Retry-After is honoured, up to max_s: an alert must not wait hours because a server asked.
    """
    base = min(retry.max_s, retry.initial_s * retry.multiplier ** max(0, attempt - 1))
    delay = base * (1.0 - retry.jitter * (rng or random).random())
    if retry_after is not None:
        delay = max(delay, min(retry_after, retry.max_s))
    return delay


class IncidentGate:
    """Decides whether a new incident may alert: per-camera cooldown and a global rate limit.

    Only new incidents pass the gate; updates of an incident never alert again. State is kept in
    memory and seeded from the outbox at start, so a restart does not reset either limit.
    """

    def __init__(self, policy: PolicyConfig):
        self.policy = policy
        self._last_activity: dict[str, float] = {}
        self._admitted: deque[float] = deque()

    def seed(self, history: Iterable[tuple[str, float, float]]) -> None:
        """(camera, admitted_at, last_activity) of incidents that alerted, oldest first."""
        for camera, admitted_at, last_activity in history:
            self._admitted.append(admitted_at)
            self._last_activity[camera] = max(last_activity, self._last_activity.get(camera, 0.0))

    def check(self, camera: str, now: float) -> str | None:
        """Why a new incident on `camera` must not alert now, or None when it may."""
        cooldown = self.policy.camera_cooldown_s
        last = self._last_activity.get(camera)
        if last is not None and now - last < cooldown:
            return (f"camera cooldown: {camera} alerted {now - last:.0f} s ago "
                    f"(policy.camera_cooldown_s = {cooldown:g})")
        limit = self.policy.rate_limit
        while self._admitted and self._admitted[0] <= now - limit.window_s:
            self._admitted.popleft()
        if len(self._admitted) >= limit.max_incidents:
            return (f"rate limit: {len(self._admitted)} incidents alerted in the last "
                    f"{limit.window_s:g} s (policy.rate_limit.max_incidents = {limit.max_incidents})")
        return None

    def admit(self, camera: str, now: float) -> None:
        self._admitted.append(now)
        self._last_activity[camera] = now

    def touch(self, camera: str, now: float) -> None:
        """An alerted incident was seen again: its camera's cooldown runs from now."""
        self._last_activity[camera] = max(now, self._last_activity.get(camera, 0.0))


def window_contains(window: TimeWindow, moment: datetime) -> bool:
    day = DAYS[moment.weekday()]
    previous_day = DAYS[(moment.weekday() - 1) % 7]
    clock = moment.time().replace(tzinfo=None)
    if window.start == window.end:
        return day in window.days
    if window.start < window.end:
        return day in window.days and window.start <= clock < window.end
    # Past midnight: the part after midnight belongs to the window that started the day before.
    return (day in window.days and clock >= window.start) or \
        (previous_day in window.days and clock < window.end)


def reachable(rules: RecipientRules, moment: datetime) -> bool:
    """Whether a recipient wants alerts at `moment` (local time)."""
    if rules.schedule and not any(window_contains(w, moment) for w in rules.schedule):
        return False
    return not any(window_contains(w, moment) for w in rules.quiet_hours)


def next_reachable(rules: RecipientRules, moment: datetime) -> datetime | None:
    """The first time at or after `moment` when the recipient wants alerts (None: not this week).

    Reachability only changes at a window's start or end, so only those instants are tried.
    """
    if reachable(rules, moment):
        return moment
    tz = moment.tzinfo
    candidates = []
    for offset in range(9):  # a window that starts on the last day may end the day after
        day: date = moment.date() + timedelta(days=offset)
        for window in (*rules.schedule, *rules.quiet_hours):
            for clock in (window.start, window.end):
                candidate = datetime.combine(day, clock, tzinfo=tz)
                if candidate > moment:
                    candidates.append(candidate)
    return next((c for c in sorted(candidates) if reachable(rules, c)), None)


def local_time(ts: float, tz: tzinfo | None) -> datetime:
    """Epoch seconds as a datetime in the configured zone (None: the system's local time)."""
    return datetime.fromtimestamp(ts, tz) if tz else datetime.fromtimestamp(ts)


@dataclass(frozen=True, slots=True)
class RecipientPlan:
    """What to do with one alert row when the incident arrives."""

    state: str            # "queued" or "skipped"
    due_at: float         # when to send (later than now when deferred)
    reason: str | None


def plan_recipient(rules: RecipientRules | None, now: float, tz: tzinfo | None,
                   allow_defer: bool = True) -> RecipientPlan:
    """Apply a recipient's schedule and quiet hours to an alert arriving at `now`."""
    if rules is None or not rules.has_rules:
        return RecipientPlan("queued", now, None)
    moment = local_time(now, tz)
    if reachable(rules, moment):
        return RecipientPlan("queued", now, None)
    if rules.when_quiet == "defer" and allow_defer:
        later = next_reachable(rules, moment)
        if later is not None:
            return RecipientPlan("queued", later.timestamp(),
                                 f"deferred: quiet hours or outside schedule until {later:%a %H:%M}")
    return RecipientPlan("skipped", now, "skipped: quiet hours or outside the recipient's schedule")
