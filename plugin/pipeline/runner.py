"""The running pipeline: sources -> inbox -> regions + detector -> filters -> confirmation -> sinks.

Sources run in their own threads and drop frames into the inbox; one worker thread owns the
detector (a darknet network runs one frame at a time anyway) and takes frames camera by camera,
oldest waiting camera first, so a busy camera cannot starve the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2

from .. import annotate
from ..domain import Confirmation, Detection, Frame
from ..regions.stage import RegionDetector
from ..sinks.base import Sink
from ..sources.base import Source, backoff_delays
from ..untrusted import file_name, log_field, masked_url
from .confirm import Confirmer
from .filters import FrameFilter

log = logging.getLogger(__name__)


class FrameInbox:
    """Frames waiting for the detector. Per camera: "latest" keeps only the newest frame,
    "queue" keeps every frame up to `limit` (then the oldest is dropped, with an error log)."""

    def __init__(self, limit: int = 1000):
        self.limit = limit
        self._pending: OrderedDict[str, deque[Frame]] = OrderedDict()
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, frame: Frame, delivery: str) -> None:
        with self._cond:
            queue = self._pending.get(frame.camera)
            if queue is None:
                queue = self._pending[frame.camera] = deque(maxlen=1 if delivery == "latest" else None)
            if delivery != "latest" and len(queue) >= self.limit:
                lost = queue.popleft()
                self.dropped += 1
                log.error("camera=%s inbox full (%d frames): dropped %s", frame.camera, self.limit, lost.origin)
            queue.append(frame)
            self._cond.notify()

    def get(self, timeout: float) -> Frame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: any(self._pending.values()), timeout):
                return None
            camera = next(c for c, q in self._pending.items() if q)
            frame = self._pending[camera].popleft()
            self._pending.move_to_end(camera)
            return frame

    def waiting(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._pending.values())


@dataclass
class Counters:
    frames: dict[str, int] = field(default_factory=dict)
    detections: int = 0
    incidents: int = 0
    errors: int = 0
    detect_ms: deque = field(default_factory=lambda: deque(maxlen=1000))
    # The region stage, per analysed frame (last 1000): regions looked at, ms of the person
    # pass (frames that ran one) and of all gun passes; regions over the cap, in total.
    regions: deque = field(default_factory=lambda: deque(maxlen=1000))
    person_ms: deque = field(default_factory=lambda: deque(maxlen=1000))
    gun_ms: deque = field(default_factory=lambda: deque(maxlen=1000))
    regions_dropped: int = 0


class Runner:
    def __init__(self, sources: list[Source], detector: RegionDetector, confirmer: Confirmer,
                 sinks: list[Sink], filters: dict[str, FrameFilter] | None = None,
                 default_filter: FrameFilter = FrameFilter(), snapshot_dir: Path | None = None):
        self.sources, self.detector, self.confirmer, self.sinks = sources, detector, confirmer, sinks
        self.filters, self.default_filter = filters or {}, default_filter
        self.snapshot_dir = snapshot_dir
        self.inbox = FrameInbox()
        self.counters = Counters()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for source in self.sources:
            sink = (lambda s: lambda frame: self.inbox.put(frame, s.delivery))(source)
            thread = threading.Thread(target=self._run_source, args=(source, sink), name=source.name, daemon=True)
            thread.start()
            self._threads.append(thread)
        worker = threading.Thread(target=self._work, name="detector", daemon=True)
        worker.start()
        self._threads.append(worker)

    def worker_alive(self) -> bool:
        return any(t.name == "detector" and t.is_alive() for t in self._threads)

    def sources_alive(self) -> dict[str, bool]:
        """Source name -> whether its thread still runs (a source whose input ended, a video
        file without loop, has returned)."""
        threads = {t.name: t for t in self._threads}
        return {s.name: s.name in threads and threads[s.name].is_alive() for s in self.sources}

    # A source that ran this long before it crashed starts its backoff from the beginning again.
    SOURCE_STABLE_S = 300.0

    def _run_source(self, source: Source, sink) -> None:
        """Run a source until stop. One that raises is restarted with backoff (1, 2, 4 ... 60 s):
        a bug triggered by one hostile input must cost that input, not the camera for good."""
        delays = backoff_delays()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                source.run(sink, self._stop)
                return
            except Exception as exc:
                if time.monotonic() - started > self.SOURCE_STABLE_S:
                    delays = backoff_delays()
                wait = next(delays)
                source.status.crashed(f"{type(exc).__name__}: {masked_url(str(exc))}")
                log.exception("source=%s crashed (restart %d in %.0f s); the other sources go on",
                              source.name, source.status.restarts, wait)
                self._stop.wait(wait)

    STATUS_EVERY_S = 60.0

    def _work(self) -> None:
        next_status = time.monotonic() + self.STATUS_EVERY_S
        while not self._stop.is_set():
            frame = self.inbox.get(timeout=0.2)
            if frame is not None:
                self.process(frame)
            if time.monotonic() >= next_status:
                next_status += self.STATUS_EVERY_S
                self.log_status()

    def log_status(self) -> None:
        """One line per source (state, fps, lag), so an admin sees a stalled camera in the log."""
        for source in self.sources:
            st = source.status
            log.info("status source=%s state=%s fps=%.1f lag_s=%.1f frames=%d errors=%d%s", st.name,
                     st.state, st.fps, st.lag_s, st.frames, st.errors,
                     f" last_error={st.last_error!r}" if st.last_error else "")
        ms = sorted(self.counters.detect_ms)
        log.info("status detector=%s frames=%d waiting=%d p50_ms=%.0f errors=%d", self.detector.name,
                 sum(self.counters.frames.values()), self.inbox.waiting(),
                 ms[len(ms) // 2] if ms else 0.0, self.counters.errors)
        regions, person = list(self.counters.regions), sorted(self.counters.person_ms)
        if regions:
            log.info("status regions per_frame=%.1f person_p50_ms=%.0f dropped=%d", sum(regions) / len(regions),
                     person[len(person) // 2] if person else 0.0, self.counters.regions_dropped)

    def process(self, frame: Frame) -> list[Confirmation]:
        """Everything that happens to one frame; public so tests and `demo` can drive it."""
        started = time.perf_counter()
        try:
            result = self.detector.detect_regions(frame.camera, frame.image, frame.at)
        except Exception as exc:
            self.counters.errors += 1
            log.error("camera=%s detection failed on %s: %s", frame.camera, frame.origin, exc)
            return []
        self.counters.detect_ms.append((time.perf_counter() - started) * 1000)
        self.counters.regions.append(len(result.regions))
        self.counters.gun_ms.append(result.gun_ms)
        if result.person_ms:
            self.counters.person_ms.append(result.person_ms)
        self.counters.regions_dropped += result.dropped
        found = result.detections
        self.counters.frames[frame.camera] = self.counters.frames.get(frame.camera, 0) + 1
        height, width = frame.image.shape[:2]
        sx, sy = frame.scale
        kept = self.filters.get(frame.camera, self.default_filter).keep(
            [d.scaled(sx, sy) for d in found], round(width * sx), round(height * sy))
        self.counters.detections += len(kept)
        confirmations = self.confirmer.observe(frame.camera, frame.at, kept, single_frame=frame.single_frame,
                                               event_id=frame.event_id, url=frame.url, origin=frame.origin)
        if frame.single_frame:
            # A snapshot is one decision, so the admin sees each, guns or none, at INFO.
            best = max((d.confidence for d in kept), default=None)
            log.info("camera=%s snapshot=%s guns=%d best=%s", log_field(frame.camera), log_field(frame.origin),
                     len(kept), f"{best:.2f}" if best is not None else "-")
        confirmations = [self._with_snapshot(frame, c) for c in confirmations]
        self.counters.incidents += sum(c.kind == "opened" for c in confirmations)
        for sink in self.sinks:
            try:
                sink.handle(frame, kept, confirmations)
            except Exception:
                self.counters.errors += 1
                log.exception("sink=%s failed on camera=%s frame %s", sink.name, frame.camera, frame.origin)
        if frame.ack:
            frame.ack()
        return confirmations

    def _with_snapshot(self, frame: Frame, confirmation: Confirmation) -> Confirmation:
        if self.snapshot_dir is None or confirmation.kind not in ("opened", "updated"):
            return confirmation
        incident = confirmation.incident
        sx, sy = frame.scale
        in_image = replace(incident, box=incident.box.scaled(1 / sx, 1 / sy))
        drawn = annotate.draw(frame.image, [Detection(in_image.label, in_image.confidence, in_image.box)])
        # The id carries the camera name, which comes from outside (a folder, a recorder).
        path = self.snapshot_dir / f"{file_name(incident.id)}-{incident.update}.jpg"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), drawn):
                raise OSError("encoder refused")
        except OSError as exc:
            log.error("camera=%s cannot write snapshot %s: %s", frame.camera, path, exc)
            return confirmation
        return Confirmation(confirmation.kind, replace(incident, snapshot=str(path)))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for sink in reversed(self.sinks):
            sink.close()

