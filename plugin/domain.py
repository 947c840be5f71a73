"""Typed messages passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True, slots=True)
class BBox:
    """Axis-aligned box in pixels of the analysed image: top-left corner plus size."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def iou(self, other: BBox) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def clipped(self, width: int, height: int) -> BBox:
        x0, y0 = max(0.0, self.x), max(0.0, self.y)
        x1, y1 = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        return BBox(x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0))

    def scaled(self, sx: float, sy: float) -> BBox:
        return BBox(self.x * sx, self.y * sy, self.w * sx, self.h * sy)

    def as_list(self, ndigits: int = 1) -> list[float]:
        return [round(self.x, ndigits), round(self.y, ndigits), round(self.w, ndigits), round(self.h, ndigits)]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found in one image. Confidence stays a float in [0, 1] until displayed."""

    label: str
    confidence: float
    box: BBox

    @property
    def summary(self) -> str:
        return f"{self.label} {self.confidence:.0%}"

    def scaled(self, sx: float, sy: float) -> Detection:
        return Detection(self.label, self.confidence, self.box.scaled(sx, sy))

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": round(self.confidence, 4), "box": self.box.as_list()}


@dataclass(frozen=True, slots=True)
class Frame:
    """One picture from a source, on its way to the detector.

    `scale` maps the image's pixels to the original's when it was decoded at reduced size.
    `single_frame` marks snapshot-only sources (one picture per recorder event), where
    confirmation cannot wait for more frames.
    """

    camera: str
    image: Any                   # numpy BGR array
    at: float                    # epoch seconds when it was captured (or the file written)
    origin: str = ""             # file path or stream URL, for logs
    scale: tuple[float, float] = (1.0, 1.0)
    single_frame: bool = False
    event_id: str | None = None
    url: str | None = None
    # Called once the frame has gone through detection, confirmation and the sinks: a source
    # marks its input done only then (move a file, remember an event), so a crash in between
    # means "analyse again", never "lost".
    ack: Callable[[], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Incident:
    """A confirmed gun on one camera: what the alerting pipeline receives.

    One incident is one alert per recipient; later sightings of the same gun arrive as updates
    (same `id`, higher `update`), which the outbox folds into the alert instead of sending anew.
    """

    id: str                      # stable across updates, unique per camera and start time
    camera: str
    started_at: float            # epoch seconds of the first confirming frame
    label: str
    confidence: float            # best confidence seen so far
    box: BBox
    update: int = 0              # 0 = opened; 1, 2, ... = later sightings
    snapshot: str | None = None  # path of the annotated JPEG on disk, if any
    event_id: str | None = None  # the recorder's event this came from, if any
    url: str | None = None       # where a person can look at it (recorder's event page)
    origin: str | None = None    # the frame (file, stream, event) that opened or last changed it


@dataclass(frozen=True, slots=True)
class Confirmation:
    """What the confirmation stage tells the sinks about a camera's incident.

    kind: "opened" (send the alert), "updated" (fold into it), "closed" (the gun is gone), or
    "stationary" (a detection has not moved for long: it no longer alerts; the admin should look
    and mask it if it is a look-alike).
    """

    kind: str
    incident: Incident
