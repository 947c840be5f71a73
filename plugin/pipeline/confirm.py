"""Confirmation: turn per-frame detections into incidents, one camera at a time.

A single frame never raises an alarm on a multi-frame source: a gun must be seen in N of the
last M analysed frames of its camera, within T seconds. The same gun is followed across frames
by box overlap (a track). Per camera at most one incident is open; every confirmed track feeds
it, so two guns or a gun that leaves and comes back within the cooldown give one alert with
updates, not several alerts. A track that stays at the same place for long stops counting and
is reported once, so the admin can mask a look-alike (a drill on a shelf).

Snapshot-only sources (pictures, not a stream) cannot wait for N frames: there a single picture
confirms at `single_frame_confidence` or above. Recorders that write snapshots (cameras' FTP
uploads, Blue Iris, motion) often write a burst of them per event: pictures of one camera less
than `burst_s` apart form a burst, and a gun seen in `burst_hits` pictures of it confirms at the
detector's threshold, as frames of a stream do.

The engine is pure: time comes from the caller (frame timestamps, seconds), nothing sleeps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from pydantic import Field, model_validator

from ..domain import BBox, Confirmation, Detection, Incident
from ..schema import GunwatchModel


class ConfirmSettings(GunwatchModel):
    # 4 of 5: measured by benchmarks/confirmation.py (README). With the first gun model it cut
    # incidents on gun-free look-alike scenes by more than half against a single frame; with the
    # current one at its 0.6 it cuts them from 19.4 % to 16.4 % and keeps 51.7 of 63.3 % of gun scenes.
    hits: int = Field(4, ge=1, description="N: frames in which the gun must be seen ...")
    window: int = Field(5, ge=1, description="... among the last M analysed frames ...")
    within_s: float = Field(10.0, gt=0, description="... all within T seconds")
    match_iou: float = Field(0.2, gt=0, le=1, description="box overlap that makes two sightings the same gun")
    lost_after_s: float = Field(5.0, gt=0, description="a gun not seen for this long has left")
    cooldown_s: float = Field(60.0, ge=0, description="a new confirmation this soon after an "
                              "incident closed continues it instead of alerting again")
    update_every_s: float = Field(10.0, ge=0, description="at most one update per incident per this many seconds")
    stationary_after_s: float = Field(120.0, gt=0, description="a detection at the same place this "
                                      "long stops alerting and is reported (mask look-alikes)")
    stationary_iou: float = Field(0.8, gt=0, le=1, description="overlap that counts as the same place")
    stationary_forget_s: float = Field(3600.0, gt=0, description="a place reported as stationary "
                                       "alerts again once nothing was seen there for this long")
    single_frame_confidence: float = Field(0.85, ge=0, le=1, description="snapshot-only sources: one "
                                           "frame confirms at or above this confidence")
    burst_s: float = Field(5.0, ge=0, description="snapshot-only sources: pictures of a camera "
                           "written less than this apart (seconds) are one burst (0: every picture "
                           "alone; at most lost_after_s, after which a gun counts as gone)")
    burst_hits: int = Field(2, ge=2, description="a gun seen in this many pictures of one burst "
                            "confirms at the detector's threshold")

    @model_validator(mode="after")
    def check_hits_fit_window(self) -> ConfirmSettings:
        if self.hits > self.window:
            raise ValueError(f"hits ({self.hits}) must be between 1 and window ({self.window})")
        return self


@dataclass
class _Track:
    id: int
    box: BBox
    best: Detection
    last_seen: float
    seen: deque[tuple[float, bool]]      # (time, matched) for the last frames (window or burst_hits)
    anchor: BBox                          # where it settled, for stationary detection
    anchor_since: float
    stationary: bool = False

    def hit_times(self, last: int) -> list[float]:
        """When it was seen, among the last `last` frames."""
        return [t for t, hit in list(self.seen)[-last:] if hit]


@dataclass(frozen=True)
class _Sighting:
    """Where the frame being observed came from, carried into the incident it confirms."""

    event_id: str | None
    snapshot: str | None
    url: str | None
    origin: str | None


@dataclass
class _Open:
    incident: Incident
    tracks: set[int] = field(default_factory=set)
    last_update_at: float = 0.0
    pending_update: bool = False


def _best_match(box: BBox, candidates: list[Detection], threshold: float) -> int | None:
    scored = [(box.iou(d.box), i) for i, d in enumerate(candidates)]
    best = max(scored, default=(0.0, None))
    return best[1] if best[0] >= threshold else None


class CameraConfirmer:
    """Confirmation state of one camera."""

    def __init__(self, camera: str, settings: ConfirmSettings = ConfirmSettings()):
        self.camera, self.settings = camera, settings
        self._tracks: list[_Track] = []
        self._next_track = 1
        self._open: _Open | None = None
        self._last_closed: tuple[Incident, float] | None = None  # for the cooldown
        self._stationary_spots: dict[BBox, float] = {}  # place -> last seen there
        self._burst_start: float | None = None       # snapshot-only: when this burst began
        self._last_picture: float | None = None

    def observe(self, at: float, detections: list[Detection], *, single_frame: bool = False,
                event_id: str | None = None, snapshot: str | None = None,
                url: str | None = None, origin: str | None = None) -> list[Confirmation]:
        """Feed one analysed frame (already filtered by zone/size/label); get what changed."""
        s = self.settings
        if single_frame:
            if self._last_picture is None or not 0 <= at - self._last_picture < s.burst_s:
                self._burst_start = at
            self._last_picture = at
        found = _Sighting(event_id, snapshot, url, origin)
        # Tracks unseen for too long are gone before this frame is matched: event-based
        # sources send nothing between events, and a gun an hour later is a new sighting.
        out: list[Confirmation] = self._expire(at)
        unmatched = list(detections)
        for track in self._tracks:
            index = _best_match(track.box, unmatched, s.match_iou)
            if index is None:
                track.seen.append((at, False))
                continue
            det = unmatched.pop(index)
            track.box, track.last_seen = det.box, at
            track.seen.append((at, True))
            if det.confidence > track.best.confidence:
                track.best = det
            if det.box.iou(track.anchor) < s.stationary_iou:
                track.anchor, track.anchor_since, track.stationary = det.box, at, False
            elif not track.stationary and at - track.anchor_since >= s.stationary_after_s:
                track.stationary = True
                self._stationary_spots[track.anchor] = at
                out.append(Confirmation("stationary", self._incident_for(track, at, found)))
        for det in unmatched:
            track = _Track(self._next_track, det.box, det, at,
                           deque([(at, True)], maxlen=max(s.window, s.burst_hits)),
                           det.box, at)
            # A look-alike already reported at this place stays quiet when it is found again.
            track.stationary = any(det.box.iou(spot) >= s.stationary_iou for spot in self._stationary_spots)
            self._next_track += 1
            self._tracks.append(track)

        for track in self._tracks:
            if track.stationary or track.last_seen != at:
                continue
            if self._confirmed(track, single_frame):
                out.extend(self._join(track, at, found))

        out.extend(self._expire(at))
        return out

    def _confirmed(self, track: _Track, single_frame: bool) -> bool:
        s = self.settings
        if single_frame:
            in_burst = [t for t in track.hit_times(len(track.seen)) if t >= self._burst_start]
            return (track.best.confidence >= s.single_frame_confidence
                    or (s.burst_s > 0 and len(in_burst) >= s.burst_hits))
        hits = track.hit_times(s.window)
        return len(hits) >= s.hits and hits[-1] - hits[-s.hits] <= s.within_s

    def _incident_for(self, track: _Track, at: float, found: _Sighting) -> Incident:
        best = track.best
        return Incident(id=f"{self.camera}:{int(at * 1000)}:{track.id}", camera=self.camera,
                        started_at=at, label=best.label, confidence=best.confidence, box=best.box,
                        event_id=found.event_id, snapshot=found.snapshot, url=found.url,
                        origin=found.origin)

    def _join(self, track: _Track, at: float, found: _Sighting) -> list[Confirmation]:
        s = self.settings
        if self._open is None:
            if self._last_closed and at - self._last_closed[1] <= s.cooldown_s:
                previous = self._last_closed[0]
                reopened = replace(previous, update=previous.update + 1, confidence=track.best.confidence,
                                   box=track.best.box, snapshot=found.snapshot or previous.snapshot,
                                   origin=found.origin or previous.origin)
                self._open = _Open(reopened, {track.id}, last_update_at=at)
                self._last_closed = None
                return [Confirmation("updated", reopened)]
            incident = self._incident_for(track, at, found)
            self._open = _Open(incident, {track.id}, last_update_at=at)
            return [Confirmation("opened", incident)]
        current = self._open
        incident = current.incident
        if track.id not in current.tracks or track.best.confidence > incident.confidence:
            current.tracks.add(track.id)
            best = max(track.best, Detection(incident.label, incident.confidence, incident.box),
                       key=lambda d: d.confidence)
            current.incident = replace(incident, confidence=best.confidence, box=best.box,
                                       snapshot=found.snapshot or incident.snapshot,
                                       origin=found.origin or incident.origin)
            current.pending_update = True
        if current.pending_update and at - current.last_update_at >= s.update_every_s:
            current.incident = replace(current.incident, update=current.incident.update + 1)
            current.last_update_at, current.pending_update = at, False
            return [Confirmation("updated", current.incident)]
        return []

    def _expire(self, at: float) -> list[Confirmation]:
        s = self.settings
        for track in self._tracks:
            if track.stationary and track.last_seen == at:
                for spot in self._stationary_spots:
                    if track.box.iou(spot) >= s.stationary_iou:
                        self._stationary_spots[spot] = at
        # A place stays muted while the look-alike is seen there; forgotten after an hour unseen.
        self._stationary_spots = {b: t for b, t in self._stationary_spots.items()
                                  if at - t <= s.stationary_forget_s}
        gone = [t for t in self._tracks if at - t.last_seen > s.lost_after_s]
        self._tracks = [t for t in self._tracks if at - t.last_seen <= s.lost_after_s]
        if self._open is None:
            return []
        moving = {t.id for t in self._tracks if not t.stationary}
        if self._open.tracks & moving:
            return []
        closed = self._open.incident
        # Closed because what is left has not moved for long: a gun showing up next is a new
        # incident, not a continuation that the alert policy would fold away.
        still_there = any(t.id in self._open.tracks for t in self._tracks)
        # The cooldown runs from when the gun was last seen, not from when its absence was
        # noticed (an event source may be silent for an hour in between).
        last_seen = max((t.last_seen for t in gone if t.id in self._open.tracks), default=at)
        self._open, self._last_closed = None, (None if still_there else (closed, last_seen))
        return [Confirmation("closed", closed)]


class Confirmer:
    """Confirmation for every camera, each with its own settings."""

    def __init__(self, default: ConfirmSettings = ConfirmSettings(),
                 per_camera: dict[str, ConfirmSettings] | None = None):
        self.default, self.per_camera = default, per_camera or {}
        self._cameras: dict[str, CameraConfirmer] = {}

    def observe(self, camera: str, at: float, detections: list[Detection], **kwargs) -> list[Confirmation]:
        confirmer = self._cameras.get(camera)
        if confirmer is None:
            confirmer = self._cameras[camera] = CameraConfirmer(camera, self.per_camera.get(camera, self.default))
        return confirmer.observe(at, detections, **kwargs)
