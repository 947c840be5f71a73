"""The sink half of the ZoneMinder adapter: a confirmed gun goes back into ZoneMinder as event
Notes, objdetect.jpg + objects.json in the event folder and, optionally, a forced alarm.

An event is marked when one of its frames shows the gun while the camera has a confirmed
incident (opened or updated, not yet closed): the incident may have been confirmed on frames of
this event or, seconds before, of the previous one. What is written is the event's best frame so
far (its most confident detection), not necessarily the frame that completed the confirmation.
HTTP and file writes run in a worker thread so the detector never waits for ZoneMinder; while
ZoneMinder is down they are retried.

ZoneMinder rewrites an event's Notes while it records whenever the set of alarm causes changes
(a new Modect zone, a zmtrigger or API alarm, gunwatch's own included), dropping what others
wrote. So a marked event is watched until ZoneMinder closes it, and the notes are checked (and
written again if needed) then.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from ... import annotate
from ...domain import Confirmation, Detection, Frame, Incident
from ...errors import GunwatchError
from ...sources.base import backoff_delays
from .client import ZoneMinderUnavailable, redact
from .formats import best_per_label, has_our_notes, merge_notes, objects_json, parse_origin

if TYPE_CHECKING:
    from .source import ZoneMinderSource

log = logging.getLogger(__name__)

# How long a write-back keeps being retried while ZoneMinder does not answer.
RETRY_FOR_S = 600.0
# How often a marked event still recording is looked at, to check its notes once it closes.
CLOSE_CHECK_S = 2.0
# Results kept for `result()` and the close check; older ones are of finished events.
KEEP_RESULTS = 1000


@dataclass(frozen=True)
class EventResult:
    """What gunwatch found in one event: the frame it is shown on and its detections."""

    event_id: int
    monitor_id: int
    camera: str
    frame: str                 # frame number, "alarm" or "snapshot"
    detections: tuple[Detection, ...]
    width: int                 # the original frame's size (boxes are in its pixels)
    height: int
    folder: Path | None

    @property
    def summary(self) -> str:
        """`gun 93%`: the best detection of each label."""
        return " ".join(d.summary for d in best_per_label(list(self.detections)))


@dataclass(frozen=True)
class _Candidate:
    """An event's most convincing frame so far, kept until the event is marked or finished."""

    confidence: float
    frame: str
    detections: tuple[Detection, ...]
    raw: bytes | None
    width: int
    height: int


@dataclass
class _Task:
    what: str
    event_id: int
    run: Callable[[], None]
    first_try: float


class ZoneMinderWriteBack:
    name = "zoneminder_write_back"

    def __init__(self, source: ZoneMinderSource):
        self.source = source
        self.config, self.client = source.config, source.client
        self._open: dict[str, Incident] = {}          # camera -> its confirmed, open incident
        self._results: dict[int, EventResult] = {}
        self._best: dict[int, _Candidate] = {}        # event id -> best frame, until marked
        self._lock = threading.Lock()
        self._tasks: queue.Queue[_Task | None] = queue.Queue()
        self._alarm_off: dict[int, threading.Timer] = {}
        self._recording: dict[int, float] = {}        # marked event -> when to look at it again
        self._worker = threading.Thread(target=self._work, name="zoneminder-write-back", daemon=True)
        self._worker.start()

    def result(self, event_id: int) -> EventResult | None:
        with self._lock:
            return self._results.get(event_id)

    # ------------------------------------------------------------ sink
    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        parsed = parse_origin(frame.origin)
        if parsed is None:
            return
        event_id, key = parsed
        for c in confirmations:
            if c.kind in ("opened", "updated"):
                self._open[c.incident.camera] = c.incident
            elif c.kind == "closed":
                self._open.pop(c.incident.camera, None)
        if not detections:
            return
        with self._lock:
            if event_id in self._results:
                return
            best = self._best.get(event_id)
            confidence = max(d.confidence for d in detections)
            if best is None or confidence > best.confidence:
                height, width = frame.image.shape[:2]
                sx, sy = frame.scale
                best = self._best[event_id] = _Candidate(
                    confidence, key, tuple(detections), self.source.raw_frame(event_id, key),
                    round(width * sx), round(height * sy))
        if frame.camera not in self._open:
            return
        info = self.source.event_info(event_id)
        if info is None:
            return     # the event was finished meanwhile (deleted)
        monitor_id, folder = info
        result = EventResult(event_id, monitor_id, frame.camera, best.frame, best.detections,
                             best.width, best.height, folder)
        with self._lock:
            self._results[event_id] = result
            self._best.pop(event_id, None)
            while len(self._results) > KEEP_RESULTS:
                del self._results[next(iter(self._results))]
        self.source.gun_found(event_id)
        log.info("event=%s camera=%s: %s (best in frame %s)", event_id, frame.camera, result.summary,
                 best.frame)
        raw = best.raw
        # Local files first: they need no answer from ZoneMinder's web server.
        if self.config.objdetect and raw is not None:
            self._queue("objdetect.jpg", event_id, lambda: self._write_objdetect(result, raw))
        if self.config.notes:
            self._queue("notes", event_id, lambda: self._write_notes(result))
            self._recording[event_id] = time.monotonic() + CLOSE_CHECK_S
        if self.config.alarm != "off":
            self._queue("alarm", event_id, lambda: self._raise_alarm(result))

    def event_finished(self, event_id: int) -> None:
        """The source is done with the event: its best frame need not be kept."""
        with self._lock:
            self._best.pop(event_id, None)

    def close(self) -> None:
        self._tasks.put(None)
        self._worker.join(timeout=30)
        for monitor_id, timer in list(self._alarm_off.items()):
            timer.cancel()
            self._alarm(monitor_id, on=False)

    # ------------------------------------------------------------ worker
    def _queue(self, what: str, event_id: int, run: Callable[[], None]) -> None:
        self._tasks.put(_Task(what, event_id, run, time.monotonic()))

    def _work(self) -> None:
        closing = False
        while True:
            try:
                task = self._tasks.get(timeout=0.5 if closing else CLOSE_CHECK_S)
            except queue.Empty:
                if closing:
                    # Shutting down: last look at the events still recording.
                    self._check_recording(final=True)
                    return
                self._check_recording(final=False)
                continue
            if task is None:
                closing = True
                continue
            self._run(task, closing)
            self._check_recording(final=False)

    def _check_recording(self, final: bool) -> None:
        now = time.monotonic()
        for event_id, due in list(self._recording.items()):
            if not final and now < due:
                continue
            result = self.result(event_id)
            try:
                data = self.client.event(event_id)
                if result is None or data is None:
                    self._recording.pop(event_id, None)
                    continue
                if data.get("Event", {}).get("EndDateTime") or final:
                    self._recording.pop(event_id, None)
                    self._write_notes(result)
                else:
                    self._recording[event_id] = now + CLOSE_CHECK_S
            except GunwatchError as exc:
                self._recording[event_id] = now + CLOSE_CHECK_S
                if final:
                    log.warning("event=%s: notes not checked after the event closed (%s)", event_id,
                                redact(str(exc)))
                    self._recording.pop(event_id, None)

    def _run(self, task: _Task, closing: bool) -> None:
        delays = backoff_delays(1.0, 30.0)
        while True:
            try:
                task.run()
                return
            except ZoneMinderUnavailable as exc:
                waited = time.monotonic() - task.first_try
                if closing or waited > RETRY_FOR_S:
                    log.error("event=%s: %s not written back to ZoneMinder (%s); the incident "
                              "is still in incidents.jsonl", task.event_id, task.what, redact(str(exc)))
                    return
                log.warning("event=%s: ZoneMinder unavailable for %s (%s); retrying",
                            task.event_id, task.what, redact(str(exc)))
                time.sleep(next(delays))
            except (GunwatchError, OSError) as exc:
                log.error("event=%s: %s failed: %s", task.event_id, task.what, redact(str(exc)))
                return

    # ------------------------------------------------------------ the writes
    def _write_notes(self, result: EventResult) -> None:
        data = self.client.event(result.event_id)
        if data is None:
            log.info("event=%s was deleted before its notes could be written", result.event_id)
            return
        before = data.get("Event", {}).get("Notes") or ""
        after = merge_notes(before, list(result.detections))
        if has_our_notes(before) and before == after:
            return
        if not self.client.update_notes(result.event_id, after):
            log.info("event=%s was deleted before its notes could be written", result.event_id)
            return
        log.info("event=%s: notes %r", result.event_id, after)

    def _write_objdetect(self, result: EventResult, raw: bytes) -> None:
        folder = result.folder
        if folder is None or not folder.is_dir():
            log.warning("event=%s: objdetect.jpg not written: event folder %s is not reachable from "
                        "this host", result.event_id, folder)
            return
        image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"frame {result.frame} no longer decodes")
        drawn = annotate.draw(image, list(result.detections))
        ok, jpeg = cv2.imencode(".jpg", drawn, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise OSError("JPEG encoder refused the annotated frame")
        payload = objects_json(result.frame, list(result.detections), result.width, result.height)
        _write_beside(folder, "objdetect.jpg", jpeg.tobytes())
        _write_beside(folder, "objects.json", json.dumps(payload).encode())
        log.info("event=%s: wrote objdetect.jpg and objects.json in %s", result.event_id, folder)

    def _raise_alarm(self, result: EventResult) -> None:
        seconds = self.config.alarm_s
        if self.config.alarm == "zmtrigger":
            host = self.client.portal.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
            # zmtrigger.pl: id|action|score|cause|text|showtext, one command per line; on+N
            # cancels itself after N seconds.
            text = result.summary.replace("|", "/")
            line = f"{result.monitor_id}|on+{int(seconds)}|255|gunwatch|{text}|{text}\n"
            try:
                with socket.create_connection((host, self.config.zmtrigger_port), timeout=5) as conn:
                    conn.sendall(line.encode())
            except OSError as exc:
                raise ZoneMinderUnavailable(f"zmtrigger {host}:{self.config.zmtrigger_port}: {exc}") from None
            log.info("monitor=%s: alarm for %.0f s through zmtrigger", result.monitor_id, seconds)
            return
        self._alarm(result.monitor_id, on=True)
        previous = self._alarm_off.pop(result.monitor_id, None)
        if previous:
            previous.cancel()
        timer = threading.Timer(seconds, self._alarm_timeout, args=(result.monitor_id,))
        timer.daemon = True
        self._alarm_off[result.monitor_id] = timer
        timer.start()
        log.info("monitor=%s: alarm for %.0f s through the API", result.monitor_id, seconds)

    def _alarm_timeout(self, monitor_id: int) -> None:
        self._alarm_off.pop(monitor_id, None)
        self._alarm(monitor_id, on=False)

    def _alarm(self, monitor_id: int, on: bool) -> None:
        try:
            self.client.alarm(monitor_id, on)
        except GunwatchError as exc:
            if on:
                raise
            log.error("monitor=%s: could not cancel the forced alarm (%s); ZoneMinder keeps "
                      "recording until it is cancelled", monitor_id, redact(str(exc)))


def _write_beside(folder: Path, name: str, data: bytes) -> None:
    """Write atomically (the web console may read it any moment), owned like the event folder."""
    tmp = folder / f".{name}.gunwatch-tmp"
    tmp.write_bytes(data)
    if os.geteuid() == 0:
        owner = folder.stat()
        os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, folder / name)
