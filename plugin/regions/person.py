"""Person regions: a COCO person detector finds people, and each becomes a square crop around
the person, large enough for a gun held at arm's length. The crop reaches the gun model at the
model's input size, so a far person's gun is enlarged instead of shrunk with the whole frame.

The person pass costs about as much as one gun pass, so a camera reuses the persons it found
on an earlier frame when nothing in the scene has moved since (a thumbnail of the frame against
the one of that pass), for up to `STILL_REUSE_S`; and always when they were found less than
`person_every_s` ago, as at several frames per second people move a few pixels between frames,
well inside the crop's margin.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..detectors.base import Detector, DetectorSettings
from ..detectors.select import create_detector
from ..domain import BBox
from ..errors import ConfigError, GunwatchError
from ..model import load_model
from ..registry import register
from .base import Region, square_crop, without_repeats
from .config import RegionSettings

if TYPE_CHECKING:
    from ..config import DetectorConfig

log = logging.getLogger(__name__)

PERSON_LABEL = "person"
THUMB_SIZE = (80, 45)     # a 1080p person 60 px wide still covers a few pixels of it
THUMB_CHANGE = 12         # grey levels: more than compression noise after the blur
STILL_SHARE = 0.001       # under this share of changed thumbnail pixels, the scene is still
STILL_REUSE_S = 10.0      # a person missed by one pass is looked for again at least this often


def load_person_detector(d: DetectorConfig) -> Detector:
    """The person detector the `detector` section names (`gunwatch run` shares one between all
    cameras; `doctor` tries it), or a ConfigError naming the key."""
    try:
        bundle = load_model(d.person_model)
        if d.person_input:
            bundle = bundle.at_input_size(d.person_input)
        return create_detector(d.person_backend, bundle, DetectorSettings(confidence=d.person_confidence),
                               library=str(d.darknet_library) if d.darknet_library else None)
    except GunwatchError as exc:
        raise ConfigError(f"detector.person_model: {exc}; person regions need a COCO model "
                          "(the bundled person-yolov4-tiny), or set the cameras' regions.modes "
                          "to [whole]") from exc


def thumbnail(image: np.ndarray) -> np.ndarray:
    small = cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return cv2.GaussianBlur(grey, (3, 3), 0)


def still(before: np.ndarray, now: np.ndarray) -> bool:
    return float((cv2.absdiff(before, now) > THUMB_CHANGE).mean()) < STILL_SHARE


@register("region", "person")
class PersonRegions:
    kind = "person"

    def __init__(self, settings: RegionSettings, person: Detector | None = None):
        if person is None:
            raise ValueError("person regions need the person model (detector.person_model)")
        self.person, self.settings = person, settings
        self._found_at: float | None = None
        self._thumb: np.ndarray | None = None
        self._persons: list[BBox] = []
        self.last_ms = 0.0  # time of this frame's person pass; 0 when the persons were reused

    def persons(self, image: np.ndarray, at: float) -> list[BBox]:
        """People in the frame, largest first: found now, or reused from an earlier frame."""
        thumb = thumbnail(image)
        reuse = self.settings.person_every_s > 0 and self._found_at is not None
        if reuse and self._thumb is not None and self._thumb.shape == thumb.shape:
            age = at - self._found_at
            if 0 <= age < self.settings.person_every_s or (0 <= age < STILL_REUSE_S and still(self._thumb, thumb)):
                self.last_ms = 0.0
                return self._persons
        started = time.perf_counter()
        found = [d.box for d in self.person.detect(image) if d.label == PERSON_LABEL]
        self.last_ms = (time.perf_counter() - started) * 1000
        self._persons = sorted(found, key=lambda b: -b.area)
        self._found_at, self._thumb = at, thumb
        return self._persons

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        h, w = image.shape[:2]
        crops = [Region(self.kind, square_crop(box, w, h, self.settings.crop_grow, self.settings.min_crop))
                 for box in self.persons(image, at)]
        return without_repeats(crops)
