"""ZoneMinder events as a gunwatch source: new and ongoing events are followed, and their frames
are handed to the pipeline in the order that finds a gun soonest.

Events are noticed through the events folder (watchdog/inotify: ZoneMinder writes a frame's
JPEG there the moment it is captured) and/or by polling the API (which also tells when an event
ends, which of its frames are alarm frames, and works from another host). Per event the frames
go out one at a time, the next chosen only once the previous one has been analysed, so the
choice always sees the newest files:

1. `alarm.jpg`, the first alarm frame;
2. the other alarm frames (API frame rows of type Alarm, Modect's `NNNNN-analyse.jpg`, and while
   the event is open the frames written after alarm.jpg);
3. `snapshot.jpg` (the highest-scoring frame) once the event has ended, unless it is a frame
   already analysed;
4. every `sample_every`-th capture frame.

Events of one camera are analysed one after the other, oldest first, so that confirmation
sees the camera's frames in time order. An event is left once a gun is confirmed in it, its
frame budget is spent, it ended and nothing is left, or it was deleted. A JPEG without its end marker is still being written and is retried;
one that stays so, or does not decode, is skipped with a warning. Analysed frames are recorded in
the ledger when the pipeline acknowledges them, so after a restart (of gunwatch or of ZoneMinder)
an event resumes where it stopped and nothing is analysed twice.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ...decode import ImageRefused, decode_for_detection
from ...domain import Frame
from ...errors import GunwatchError, SourceError
from ...model import InputSpec
from ...registry import register
from ...sources.base import FrameSink, SourceStatus, backoff_delays
from ...untrusted import log_field, printable
from .client import ZoneMinderClient, ZoneMinderUnavailable, redact
from .config import ZoneMinderSourceConfig
from .doctor import check
from .formats import origin_of
from .events import FollowedEvents
from .ledger import EventLedger

log = logging.getLogger(__name__)
# watchdog logs every inotify event at DEBUG (dozens per recorded frame), drowning gunwatch's own
# per-frame lines.
logging.getLogger("watchdog").setLevel(logging.INFO)

_FRAME_FILE = re.compile(r"^(\d+)-(capture|analyse)\.jpg$")
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A JPEG without its end marker, last written this long ago, is not being written any more:
# ZoneMinder writes a frame in milliseconds.
INCOMPLETE_GIVE_UP_S = 2.0
# A frame handed to the pipeline and never acknowledged (its detection failed) is retried after
# this long, and given up on the second time.
IN_FLIGHT_TIMEOUT_S = 60.0
API_MISSES_GIVE_UP = 3


def jpeg_complete(data: bytes) -> bool:
    """Start and end markers present: ZoneMinder has finished writing the file."""
    return data[:2] == b"\xff\xd8" and b"\xff\xd9" in data[-64:]


def zm_time(text: str | None) -> float | None:
    """ZoneMinder's local 'YYYY-MM-DD HH:MM:SS' as epoch seconds."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp()
    except ValueError:
        return None


@dataclass
class _Listing:
    """What an event offers right now: frame number -> (file name or None, time written)."""

    captures: dict[int, tuple[str | None, float | None]]
    analyse_ids: set[int]
    alarm_at: float | None      # when alarm.jpg was written (None: not there)
    has_alarm: bool
    has_snapshot: bool


@dataclass
class TrackedEvent:
    id: int
    monitor_id: int
    camera: str
    path: Path | None
    use_disk: bool
    started: float
    open: bool = True
    api_seen: bool = False               # the API has told us about it at least once
    deleted: bool = False
    alarm_frame_id: int | None = None    # the capture frame alarm.jpg is a copy of
    snapshot_frame_id: int | None = None  # the capture frame snapshot.jpg is a copy of
    api_alarm_ids: set[int] = field(default_factory=set)
    api_frames: dict[int, float] = field(default_factory=dict)  # frame -> seconds after start
    done: set[str] = field(default_factory=set)   # analysed, or given up on
    analysed: int = 0
    in_flight: str | None = None
    in_flight_since: float = 0.0
    timed_out: set[str] = field(default_factory=set)
    misses: dict[str, tuple[int, float]] = field(default_factory=dict)  # API 404s: count, last
    frame_count: int = 0
    followed_at: float = field(default_factory=time.monotonic)
    last_news: float = field(default_factory=time.monotonic)
    last_api_check: float = 0.0


class _DiskWatch(FileSystemEventHandler):
    """inotify on the folders where new events appear, never on the whole tree (a recorder keeps
    tens of thousands of event folders): the events root, each followed monitor's folder and its
    recent date folders (scheme Medium). The folders of events being followed are not watched:
    the source lists them every 50 ms while it follows them, and removing a watch races with
    watchdog's emitter thread (it logs an ERROR for a harmless late read)."""

    def __init__(self, source: ZoneMinderSource, root: Path):
        self.source, self.root = source, root
        self.observer = Observer()
        self._watches: dict[Path, Any] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.observer.start()
        self.watch(self.root)
        for monitor_id in self.source.followed_monitors():
            self._watch_monitor(self.root / str(monitor_id))

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)

    def watch(self, path: Path) -> None:
        with self._lock:
            if path in self._watches or not path.is_dir():
                return
            try:
                self._watches[path] = self.observer.schedule(self, str(path), recursive=False)
            except OSError as exc:
                log.warning("zoneminder: cannot watch %s (%s); the API poll covers it", path, exc.strerror)

    def _watch_monitor(self, monitor_dir: Path) -> None:
        self.watch(monitor_dir)
        if not monitor_dir.is_dir():
            return
        recent = time.time() - 2 * 86400
        for entry in os.scandir(monitor_dir):
            if entry.is_dir() and _DATE_DIR.match(entry.name) and entry.stat().st_mtime >= recent:
                self._watch_date(Path(entry.path))

    def _watch_date(self, date_dir: Path) -> None:
        self.watch(date_dir)
        # An event folder made before the watch was in place would otherwise go unseen.
        for entry in os.scandir(date_dir):
            if entry.name.isdigit() and entry.is_dir():
                self._event_dir(Path(entry.path), int(date_dir.parent.name))

    def _event_dir(self, path: Path, monitor_id: int) -> None:
        self.source.disk_news(int(path.name), monitor_id, path)

    def _noticed(self, raw: str | bytes, is_directory: bool) -> None:
        if not is_directory:
            return
        path = Path(os.fsdecode(raw))
        try:
            relative = path.relative_to(self.root).parts
        except ValueError:
            return
        if not relative or not relative[0].isdigit():
            return
        monitor_id = int(relative[0])
        if monitor_id not in self.source.followed_monitors():
            return
        if len(relative) == 1:
            self._watch_monitor(path)
        elif len(relative) == 2 and _DATE_DIR.match(relative[1]):
            self._watch_date(path)
        elif len(relative) == 2 and relative[1].isdigit():        # scheme Shallow
            self._event_dir(path, monitor_id)
        elif len(relative) == 3 and relative[2].isdigit():        # scheme Medium
            self._event_dir(path, monitor_id)

    def on_created(self, event: FileSystemEvent) -> None:
        self._noticed(event.src_path, event.is_directory)

    def on_moved(self, event: FileSystemEvent) -> None:
        self._noticed(event.dest_path, event.is_directory)


@register("source", "zoneminder")
class ZoneMinderSource:
    delivery = "queue"
    Config = ZoneMinderSourceConfig
    doctor_check = staticmethod(check)

    def __init__(self, config: ZoneMinderSourceConfig, spec: InputSpec, *,
                 event: tuple[int, int] | None = None, event_path: Path | None = None):
        """`event=(event id, monitor id)`: follow that one event only (`gunwatch zm-hook`)."""
        self.config, self.spec = config, spec
        self.client = ZoneMinderClient(config)
        self.name = f"zoneminder:{redact(config.portal)}"
        self.status = SourceStatus(self.name)
        self.only_event, self.only_event_path = event, event_path
        try:
            # Hook mode analyses one event on request and must not disturb the service's ledger.
            self.ledger = EventLedger(None if event else config.state_file)
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"zoneminder: cannot open state_file {config.state_file} ({exc}); "
                              "set state_file to a writable path under state_dir") from exc
        self.finished = threading.Event()   # hook mode: the event has been dealt with
        # Shared with the write-back: the frames it may draw on, and which events have a gun.
        self.events = FollowedEvents()
        self.events.on_gun = lambda event_id: self._wake.set()
        self._events: dict[int, TrackedEvent] = {}
        self._monitors: dict[int, str] = {}     # followed monitors: id -> name
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._disk_news: list[tuple[int, int, Path]] = []
        self._api_cursor = 0                    # newest event id the API listing has shown
        self._start_cursor = 0                  # the newest event id when following began
        self._names: dict[int, str] = {}        # every monitor: id -> name (camera names)
        self._api_down_since: float | None = None
        self._watch: _DiskWatch | None = None
        self._sink: FrameSink | None = None

    def followed_monitors(self) -> set[int]:
        with self._lock:
            return set(self._monitors)

    def disk_news(self, event_id: int, monitor_id: int, path: Path) -> None:
        with self._lock:
            self._disk_news.append((event_id, monitor_id, path))
        self._wake.set()

    # ------------------------------------------------------------ main loop
    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        self._sink = sink
        delays = backoff_delays(self.config.poll_s, 15.0)
        while not stop.is_set():
            try:
                self._connect()
                break
            except GunwatchError as exc:
                self.status.failed(str(exc))
                log.warning("source=%s cannot start following ZoneMinder: %s; retrying", self.name, exc)
                stop.wait(next(delays))
        if stop.is_set():
            self.status.state = "stopped"
            return
        self._start_disk_watch()
        delays = backoff_delays(self.config.poll_s, 15.0)
        next_poll = 0.0
        try:
            while not stop.is_set() and not self.finished.is_set():
                now = time.monotonic()
                if now >= next_poll:
                    if self._poll_api():
                        delays = backoff_delays(self.config.poll_s, 15.0)
                        next_poll = now + self.config.poll_s
                    else:
                        next_poll = now + next(delays)
                self._take_disk_news()
                # One event per camera at a time, oldest first: confirmation follows a camera's
                # timeline, and frames of two events interleaved would break it.
                busy: set[str] = set()
                for ev in self._active():
                    if ev.camera not in busy:
                        try:
                            self._advance(ev)
                        except Exception:  # one broken event must not end the source
                            self.status.errors += 1
                            log.exception("source=%s event=%s camera=%s failed; leaving it",
                                          self.name, ev.id, log_field(ev.camera))
                            self._finish(ev, "failed (see log)")
                        with self._lock:
                            if ev.id in self._events:
                                busy.add(ev.camera)
                # With events in progress, look again soon (frame files appear 5-30 times a
                # second); otherwise sleep until inotify or the next API poll.
                self._wake.wait(0.05 if busy else max(0.05, next_poll - time.monotonic()))
                self._wake.clear()
        finally:
            if self._watch:
                self._watch.stop()
            self.status.state = "stopped"

    def _active(self) -> list[TrackedEvent]:
        with self._lock:
            return sorted(self._events.values(), key=lambda e: e.id)

    # ------------------------------------------------------------ start-up
    def _connect(self) -> None:
        version = self.client.version()
        self._load_monitors()
        if self.only_event:
            event_id = self.only_event[0]
            data = self.client.event(event_id)
            if data is None:
                raise SourceError(f"zoneminder: event {event_id} does not exist")
            self._follow_api_event(data["Event"], path=self.only_event_path, force=True)
            self.status.state = "running"
            return
        high_water = self.ledger.high_water()
        resumed = 0
        for event_id, _monitor in self.ledger.unfinished():
            data = self.client.event(event_id)
            if data is None:
                self.ledger.finish(event_id, "deleted in ZoneMinder", gun=False)
                log.info("event=%s was deleted in ZoneMinder while gunwatch was away", event_id)
            elif self._follow_api_event(data["Event"]):
                resumed += 1
            elif not self.ledger.is_finished(event_id):
                self.ledger.finish(event_id, "monitor not followed any more", gun=False)
        if high_water is None:
            # First start: what is being recorded now (and backlog_s of the past), not the archive.
            recent = self.client.recent_events()
            self._api_cursor = max((int(e["Id"]) for e in recent), default=0)
            for event in reversed(recent):
                started = zm_time(event.get("StartDateTime") or event.get("StartTime")) or 0.0
                if not event.get("EndDateTime") or time.time() - started <= self.config.backlog_s:
                    self._follow_api_event(event)
            self.ledger.raise_high_water(self._api_cursor)
        else:
            self._api_cursor = high_water
            self._catch_up()
        self._start_cursor = self._api_cursor
        self.status.state = "running"
        log.info("source=%s ZoneMinder %s: following monitors %s; %d events in progress%s", self.name,
                 version.get("version", "?"), sorted(self._monitors.values()), len(self._events),
                 f" ({resumed} resumed)" if resumed else "")

    def _load_monitors(self) -> None:
        wanted = {str(m) for m in self.config.monitors}
        unwanted = {str(m) for m in self.config.exclude_monitors}
        followed, names = {}, {}
        for monitor in self.client.monitors():
            mid, name = int(monitor["Id"]), printable(str(monitor["Name"]))
            names[mid] = name
            keys = {str(mid), name}
            if (not wanted or keys & wanted) and not keys & unwanted:
                followed[mid] = name
        known_names = set(followed.values()) | {str(m) for m in followed}
        missing = wanted - known_names
        if missing:
            log.warning("source=%s monitors %s are not in ZoneMinder (or excluded); check `monitors`",
                        self.name, sorted(missing))
        with self._lock:
            self._monitors, self._names = followed, names

    def _start_disk_watch(self) -> None:
        if self.only_event or self.config.watch == "api":
            return
        root = self.config.events_dir
        if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
            log.warning("source=%s events_dir %s is not readable here; noticing events through the "
                        "API only (watch: api silences this)", self.name, root)
            return
        self._watch = _DiskWatch(self, root)
        self._watch.start()

    # ------------------------------------------------------------ discovery
    def _poll_api(self) -> bool:
        try:
            if self._api_down_since is not None:
                self._load_monitors()   # monitors may have been added or renamed meanwhile
            if not self.only_event and self.config.watch != "disk":
                self._catch_up()
            for ev in self._active():
                self._refresh(ev)
        except GunwatchError as exc:
            self.status.failed(redact(str(exc)))
            if self._api_down_since is None:
                self._api_down_since = time.monotonic()
                log.warning("source=%s ZoneMinder API unavailable (%s); retrying%s", self.name,
                            redact(str(exc)), ", following events on disk meanwhile" if self._watch else "")
            return False
        if self._api_down_since is not None:
            log.info("source=%s ZoneMinder API answers again after %.0f s", self.name,
                     time.monotonic() - self._api_down_since)
            self._api_down_since = None
        self.status.state = "running"
        return True

    def _catch_up(self) -> None:
        while True:
            events = self.client.events_after(self._api_cursor)
            for event in events:
                self._api_cursor = max(self._api_cursor, int(event["Id"]))
                self._follow_api_event(event)
            if events:
                self.ledger.raise_high_water(self._api_cursor)
            if len(events) < 100:
                return

    def _follow_api_event(self, event: dict[str, Any], path: Path | None = None, force: bool = False) -> bool:
        event_id, monitor_id = int(event["Id"]), int(event["MonitorId"])
        with self._lock:
            if event_id in self._events:
                return False
        if not force and (monitor_id not in self._monitors or self.ledger.is_finished(event_id)):
            return False
        started = zm_time(event.get("StartDateTime") or event.get("StartTime")) or time.time()
        if not self.only_event and time.time() - started > self.config.max_age_s:
            self.ledger.begin(event_id, monitor_id)
            self.ledger.finish(event_id, "older than max_age_s", gun=False)
            log.info("event=%s started %.0f s ago (> max_age_s): not analysed", event_id, time.time() - started)
            return False
        folder = path or (Path(event["FileSystemPath"]) if event.get("FileSystemPath") else None)
        ev = self._track(event_id, monitor_id, folder, started)
        if ev:
            ev.open = not event.get("EndDateTime")
        return ev is not None

    def _take_disk_news(self) -> None:
        with self._lock:
            news, self._disk_news = self._disk_news, []
        for event_id, monitor_id, path in news:
            with self._lock:
                if event_id in self._events:
                    continue
            # At or below the start-up cursor, start-up has already decided (followed or not).
            if event_id <= self._start_cursor or self.ledger.is_finished(event_id):
                continue
            try:
                started = path.stat().st_mtime
            except OSError:
                continue   # deleted already
            if time.time() - started > self.config.max_age_s:
                continue
            self._track(event_id, monitor_id, path, started)

    def _track(self, event_id: int, monitor_id: int, path: Path | None, started: float) -> TrackedEvent | None:
        camera = self._names.get(monitor_id, f"monitor-{monitor_id}")
        readable = path is not None and os.access(path, os.R_OK | os.X_OK)
        use_disk = path is not None and (self.config.frames_from == "disk" or
                                         (self.config.frames_from == "auto" and readable))
        done = self.ledger.frames(event_id)
        self.ledger.begin(event_id, monitor_id)
        ev = TrackedEvent(event_id, monitor_id, camera, path, use_disk, started, done=set(done),
                          analysed=len(done))
        with self._lock:
            if event_id in self._events:
                return None
            self._events[event_id] = ev
        self.events.follow(event_id, monitor_id, path)
        log.info("event=%s camera=%s: following (frames from %s%s)", event_id, camera,
                 "disk" if use_disk else "the API", f", resuming after {len(done)} frames" if done else "")
        self._wake.set()
        return ev

    def _refresh(self, ev: TrackedEvent) -> None:
        data = self.client.event(ev.id)
        ev.last_api_check = time.monotonic()
        if data is None:
            ev.deleted = True
            return
        event, frames = data.get("Event", {}), data.get("Frame") or []
        was_open = ev.open
        ev.api_seen = True
        ev.open = not event.get("EndDateTime")
        ev.alarm_frame_id = int(event["AlarmFrameId"]) if event.get("AlarmFrameId") else ev.alarm_frame_id
        ev.snapshot_frame_id = int(event["MaxScoreFrameId"]) if event.get("MaxScoreFrameId") else None
        ev.api_alarm_ids = {int(f["FrameId"]) for f in frames if f.get("Type") == "Alarm"}
        ev.api_frames = {int(f["FrameId"]): float(f.get("Delta") or 0) for f in frames}
        if ev.path is None and event.get("FileSystemPath"):
            ev.path = Path(event["FileSystemPath"])
            self.events.found_folder(ev.id, ev.path)
        # ZoneMinder says it is still recording: not quiet, however slow the frames come.
        if ev.open or was_open != ev.open:
            ev.last_news = time.monotonic()

    # ------------------------------------------------------------ per event
    def _advance(self, ev: TrackedEvent) -> None:
        now = time.monotonic()
        if ev.in_flight is not None:
            if now - ev.in_flight_since < IN_FLIGHT_TIMEOUT_S:
                return
            lost = ev.in_flight
            log.warning("event=%s frame %s was never acknowledged by the pipeline (detection "
                        "failed?); %s", ev.id, lost, "giving up on it" if lost in ev.timed_out else "retrying it")
            if lost in ev.timed_out:
                ev.done.add(lost)
            ev.timed_out.add(lost)
            self.events.forget_frame(ev.id, lost)
            with self._lock:
                ev.in_flight = None
        reason = None
        limit = self.config.hook_max_s if self.only_event else self.config.max_event_s
        if ev.deleted:
            reason = "deleted in ZoneMinder"
        elif self.events.has_gun(ev.id):
            reason = "gun confirmed"
        elif ev.analysed >= self.config.frames_per_event:
            reason = "frame budget spent"
        elif now - ev.followed_at > limit:
            reason = f"followed for {limit:.0f} s"
        else:
            outcome = self._hand_over_next(ev)
            if outcome in ("sent", "waiting"):
                return
            if ev.deleted:
                reason = "deleted in ZoneMinder"
            elif not ev.open:
                reason = "all frames analysed"
            elif now - ev.last_news > self.config.quiet_s:
                reason = f"no new frame and no word from ZoneMinder for {self.config.quiet_s:.0f} s"
        if reason:
            self._finish(ev, reason)

    def _finish(self, ev: TrackedEvent, reason: str) -> None:
        gun = self.events.has_gun(ev.id)
        with self._lock:
            self._events.pop(ev.id, None)
        self.events.drop(ev.id)
        self.ledger.finish(ev.id, reason, gun)
        log.info("event=%s camera=%s: done after %d frames (%s)", ev.id, ev.camera, ev.analysed, reason)
        if self.only_event:
            self.finished.set()

    def _listing(self, ev: TrackedEvent) -> _Listing | None:
        if not ev.use_disk:
            # Without the folder, the API's frame rows say what exists (complete once it ended).
            count = max(ev.api_frames, default=0)
            return _Listing({n: (None, None) for n in range(1, count + 1)}, set(), None,
                            has_alarm=ev.alarm_frame_id is not None or bool(ev.api_alarm_ids),
                            has_snapshot=ev.api_seen)
        assert ev.path is not None
        captures: dict[int, tuple[str | None, float | None]] = {}
        analyse: set[int] = set()
        alarm_at = None
        has_snapshot = False
        try:
            with os.scandir(ev.path) as entries:
                for entry in entries:
                    match = _FRAME_FILE.match(entry.name)
                    if match and match.group(2) == "capture":
                        captures[int(match.group(1))] = (entry.name, entry.stat().st_mtime)
                    elif match:
                        analyse.add(int(match.group(1)))
                    elif entry.name == "alarm.jpg":
                        alarm_at = entry.stat().st_mtime
                    elif entry.name == "snapshot.jpg":
                        has_snapshot = True
        except FileNotFoundError:
            ev.deleted = True
            return None
        except OSError as exc:
            log.warning("event=%s camera=%s: cannot list %s (%s); reading its frames through the API",
                        ev.id, ev.camera, ev.path, exc.strerror)
            ev.use_disk = False
            return self._listing(ev)
        if len(captures) > ev.frame_count:
            ev.frame_count, ev.last_news = len(captures), time.monotonic()
        return _Listing(captures, analyse, alarm_at, alarm_at is not None, has_snapshot)

    def _candidates(self, ev: TrackedEvent, listing: _Listing) -> list[str]:
        captures = listing.captures
        alarm_copy = ev.alarm_frame_id
        if alarm_copy is None and listing.alarm_at is not None:
            # Without the API: alarm.jpg is a copy of the newest frame written with it.
            written = [n for n, (_, at) in captures.items() if at is not None and at <= listing.alarm_at]
            alarm_copy = max(written, default=None)
        aliases = {"alarm": alarm_copy, "snapshot": ev.snapshot_frame_id}
        order: list[str] = []
        if listing.has_alarm:
            order.append("alarm")
        alarm_ids = set(ev.api_alarm_ids) | listing.analyse_ids
        if ev.open and listing.alarm_at is not None:
            alarm_ids |= {n for n, (_, at) in captures.items() if at is not None and at > listing.alarm_at}
        order += [str(n) for n in sorted(alarm_ids) if n in captures]
        if not ev.open and listing.has_snapshot:
            order.append("snapshot")
        order += [str(n) for n in sorted(captures) if n % self.config.sample_every == 0]
        analysed_pictures = {str(aliases[k]) for k in ("alarm", "snapshot") if k in ev.done and aliases[k]}
        result = []
        for key in dict.fromkeys(order):
            same_as = aliases.get(key)
            if key in ev.done or key in analysed_pictures or (same_as is not None and str(same_as) in ev.done):
                continue
            if key == "snapshot" and same_as is not None and same_as == alarm_copy and "alarm" in ev.done:
                continue
            result.append(key)
        return result

    def _hand_over_next(self, ev: TrackedEvent) -> str:
        """"sent", "waiting" (a frame is still being written or fetched) or "none"."""
        listing = self._listing(ev)
        if listing is None:
            return "none"
        waiting = False
        for key in self._candidates(ev, listing):
            got = self._load(ev, key, listing)
            if got == "wait":
                waiting = True
                continue
            if got is None:
                continue
            data, at = got
            try:
                image, sx, sy = decode_for_detection(data, self.spec, self.config.max_pixels)
            except ImageRefused as exc:
                self._give_up(ev, key, str(exc))
                continue
            if image is None:
                self._give_up(ev, key, "does not decode (corrupt JPEG)")
                continue
            self._send(ev, key, data, image, (sx, sy), at)
            return "sent"
        return "waiting" if waiting else "none"

    def _load(self, ev: TrackedEvent, key: str, listing: _Listing) -> tuple[bytes, float] | str | None:
        """(bytes, capture time), "wait" to try again later, or None when given up."""
        now = time.monotonic()
        if ev.use_disk:
            assert ev.path is not None
            name = {"alarm": "alarm.jpg", "snapshot": "snapshot.jpg"}.get(key) or listing.captures[int(key)][0]
            path = ev.path / str(name)
            try:
                data = path.read_bytes()
                at = path.stat().st_mtime
            except FileNotFoundError:
                if not ev.path.is_dir():
                    ev.deleted = True
                    return None
                return self._give_up(ev, key, "vanished")
            except OSError as exc:
                return self._give_up(ev, key, f"unreadable ({exc.strerror})")
            if jpeg_complete(data):
                return data, at
            if time.time() - at < INCOMPLETE_GIVE_UP_S:
                return "wait"
            return self._give_up(ev, key, f"truncated ({len(data)} bytes, no JPEG end marker)")
        count, last_miss = ev.misses.get(key, (0, 0.0))
        if count and now - last_miss < self.config.poll_s:
            return "wait"
        try:
            data = self.client.image(ev.id, key)
        except ZoneMinderUnavailable:
            return "wait"
        except GunwatchError as exc:
            return self._give_up(ev, key, redact(str(exc)))
        if data is None:
            ev.misses[key] = (count + 1, now)
            if count + 1 >= API_MISSES_GIVE_UP:
                return self._give_up(ev, key, "not served by ZoneMinder (404)")
            return "wait"
        # ZoneMinder's clock for every frame of the event (start time plus the frame's delta),
        # never ours: confirmation compares the times of frames analysed in any order.
        if key.isdigit():
            number: int | None = int(key)
        else:
            number = ev.alarm_frame_id if key == "alarm" else ev.snapshot_frame_id
        return data, ev.started + (ev.api_frames.get(number, 0.0) if number else 0.0)

    def _give_up(self, ev: TrackedEvent, key: str, why: str) -> None:
        ev.done.add(key)
        self.ledger.record_frame(ev.id, key)
        self.status.errors += 1
        log.warning("event=%s camera=%s: skipped frame %s: %s", ev.id, ev.camera, key, why)
        return None

    def _send(self, ev: TrackedEvent, key: str, data: bytes, image, scale: tuple[float, float], at: float) -> None:
        self.events.keep_frame(ev.id, key, data)
        with self._lock:
            ev.in_flight, ev.in_flight_since = key, time.monotonic()
        log.debug("event=%s camera=%s: analysing frame %s", ev.id, ev.camera, key)
        self.status.frame(at)
        assert self._sink is not None
        self._sink(Frame(camera=ev.camera, image=image, at=at, origin=origin_of(ev.id, key), scale=scale,
                         event_id=str(ev.id), url=f"{self.config.portal}/index.php?view=event&eid={ev.id}",
                         ack=partial(self._acknowledged, ev.id, key)))

    def _acknowledged(self, event_id: int, key: str) -> None:
        """The pipeline is done with this frame (detection, confirmation, sinks)."""
        self.events.forget_frame(event_id, key)
        with self._lock:
            ev = self._events.get(event_id)
            if ev is not None and ev.in_flight == key:
                ev.in_flight = None
                ev.done.add(key)
                ev.analysed += 1
        self.ledger.record_frame(event_id, key)
        self._wake.set()
