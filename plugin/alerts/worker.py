"""The delivery worker: one thread per channel takes due alerts from the outbox and sends them.

A thread per channel keeps a slow or unreachable provider (an SMTP server timing out) from
delaying the others. Within a channel alerts go out one at a time, so after a crash at most one
alert per channel can be in the duplicate window the outbox describes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, Mapping

from .channel import AlertChannel, CheckResult, Delivery, PermanentError, TransientError
from .outbox import Outbox, OutboxStorageError, Store, owner_alive, owner_id
from .policy import backoff_delay

log = logging.getLogger(__name__)

HOUSEKEEPING_S = 60.0
MIN_WAIT_S = 0.01


class DeliveryWorker:
    """Delivers what the outbox holds until stopped; every outcome is written back to it."""

    def __init__(self, outbox: Outbox, channels: Mapping[str, AlertChannel],
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.outbox = outbox
        self.channels = dict(channels)
        config = outbox.config
        self.retry = config.retry
        self.spacing_s = config.policy.recipient_interval_s
        self.poll_s = config.poll_s
        self.retention_s = config.retention_days * 86400
        self._clock = clock
        self._rng = rng or random.Random()
        self._owner = owner_id()
        self._stop = threading.Event()
        self._wake = {name: threading.Event() for name in self.channels}
        self._threads: list[threading.Thread] = []
        self.failed = 0  # alerts that ended failed while this worker ran
        outbox.subscribe(self.wake)

    def wake(self) -> None:
        for event in self._wake.values():
            event.set()

    def start(self) -> None:
        self._housekeeping(first=True)
        for name, channel in self.channels.items():
            thread = threading.Thread(target=self._run, args=(name, channel),
                                      name=f"alerts-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        keeper = threading.Thread(target=self._keep_house, name="alerts-housekeeping", daemon=True)
        keeper.start()
        self._threads.append(keeper)
        log.info("alert delivery started: channels %s, outbox %s", ", ".join(self.channels) or
                 "none", self.outbox.path)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the sends in flight (each bounded by its channel's timeout)."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for channel in self.channels.values():
            channel.close()

    def _keep_house(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_S):
            self._housekeeping(first=False)

    def _housekeeping(self, first: bool) -> None:
        now = self._clock()
        for store in self.outbox.stores():
            try:
                if first:
                    gone = store.fail_unknown_channels(set(self.channels), now)
                    if gone:
                        log.error("%d queued alerts belong to channels no longer configured; "
                                  "marked failed (see `gunwatch alerts --state failed`)", gone)
                recovered = store.requeue_orphans(now, owner_alive)
                if recovered:
                    log.warning("%d alerts were interrupted while sending (rows %s): sending them "
                                "again; a provider that had already accepted one sends it twice",
                                len(recovered), ", ".join(map(str, recovered)))
                pruned = store.prune(now - self.retention_s)
                if pruned:
                    log.info("pruned %d finished alerts older than %g days", pruned,
                             self.retention_s / 86400)
            except OutboxStorageError as exc:
                log.error("outbox housekeeping: %s", exc)

    def _run(self, name: str, channel: AlertChannel) -> None:
        wake = self._wake[name]
        while not self._stop.is_set():
            try:
                wait = 0.0 if self._step(name, channel) else self._idle_wait(name)
            except OutboxStorageError as exc:
                log.error("channel=%s: %s; trying again in %g s", name, exc, self.poll_s)
                wait = self.poll_s
            if wait:
                wake.wait(wait)
                wake.clear()

    def _idle_wait(self, name: str) -> float:
        """Sleep until the next row is due, but look again every poll_s for rows that other
        processes wrote (they cannot wake this thread)."""
        dues = [due for store in self.outbox.stores()
                if (due := store.next_due(name, self.spacing_s)) is not None]
        if not dues:
            return self.poll_s
        return min(self.poll_s, max(MIN_WAIT_S, min(dues) - self._clock()))

    def _step(self, name: str, channel: AlertChannel) -> bool:
        for store in self.outbox.stores():
            now = self._clock()
            delivery = store.claim(name, now, self._owner, channel.lease_s, self.spacing_s)
            if delivery is not None:
                self._send(store, channel, delivery)
                return True
            if channel.status_poll_s is not None:
                sent = store.due_check(name, now)
                if sent is not None:
                    self._check(store, channel, sent)
                    return True
        return False

    def _send(self, store: Store, channel: AlertChannel, d: Delivery) -> None:
        started = time.monotonic()
        try:
            result = channel.send(d)
        except PermanentError as exc:
            self._fail(store, d, f"permanent error: {exc}")
        except TransientError as exc:
            self._retry(store, d, str(exc), exc.retry_after)
        except Exception as exc:  # a bug in a channel must neither stop delivery nor lose the alert
            log.exception("alert=%s: channel %s failed unexpectedly", d.label, d.channel)
            self._retry(store, d, f"unexpected {type(exc).__name__}: {exc}", None)
        else:
            now = self._clock()
            check_at = now + channel.status_poll_s if channel.status_poll_s is not None else None
            store.record_sent(d.row_id, result, now, check_at)
            log.info("alert=%s camera=%s: %s (attempt %d, id %s, %.0f ms)", d.label,
                     d.incident.camera, result.state, d.attempt, result.provider_id or "-",
                     (time.monotonic() - started) * 1000)

    def _retry(self, store: Store, d: Delivery, reason: str, retry_after: float | None) -> None:
        now = self._clock()
        delay = backoff_delay(d.attempt, self.retry, self._rng, retry_after)
        if now + delay - d.queued_at > self.retry.give_up_after_s:
            self._fail(store, d, f"gave up after {d.attempt} attempts over {now - d.queued_at:.0f} s "
                                 f"(retry.give_up_after_s); last error: {reason}")
            return
        store.record_retry(d.row_id, f"attempt {d.attempt} failed: {reason}", now + delay, now)
        log.warning("alert=%s: attempt %d failed (%s); retrying in %.1f s", d.label, d.attempt,
                    reason, delay)

    def _fail(self, store: Store, d: Delivery, reason: str) -> None:
        self._report_failure(d, reason, store.record_failed(d.row_id, reason, self._clock()))

    def _report_failure(self, d: Delivery, reason: str, escalated: bool) -> None:
        if escalated:
            log.warning("alert=%s camera=%s: not reached (%s); escalating to the next number",
                        d.label, d.incident.camera, reason)
            return
        self.failed += 1
        log.error("alert=%s camera=%s: NOT delivered: %s", d.label, d.incident.camera, reason)

    def _check(self, store: Store, channel: AlertChannel, d: Delivery) -> None:
        now = self._clock()
        try:
            result = channel.check(d, now)
        except TransientError as exc:
            result = CheckResult("sent", f"status unknown: {exc}", final=False)
        except PermanentError as exc:
            result = CheckResult("sent", f"status not available: {exc}")
        except Exception as exc:  # as in _send: keep the thread, keep the row
            log.exception("alert=%s: status check of %s failed unexpectedly", d.label, d.channel)
            result = CheckResult("sent", f"status unknown: {type(exc).__name__}", final=False)
        poll = channel.status_poll_s
        next_check = now + poll if (not result.final and poll is not None) else None
        escalated = store.record_check(d.row_id, result, now, next_check)
        if result.state == "delivered":
            log.info("alert=%s: delivered (%s)", d.label, result.detail)
        elif result.state == "failed":
            self._report_failure(d, result.detail, escalated)
