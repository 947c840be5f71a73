"""Person regions: a COCO person detector finds people, and each becomes a square crop around
the person, large enough for a gun held at arm's length. The crop reaches the gun model at the
model's input size, so a far person's gun is enlarged instead of shrunk with the whole frame.

The person pass costs about as much as one gun pass, so a camera reuses the persons it found
less than `person_every_s` ago: at a few frames per second people move a few pixels between
frames, well inside the crop's margin.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..detectors.base import Detector
from ..domain import BBox
from ..registry import register
from .base import Region, square_crop, without_repeats
from .config import RegionSettings

log = logging.getLogger(__name__)

PERSON_LABEL = "person"


@register("region", "person")
class PersonRegions:
    kind = "person"

    def __init__(self, settings: RegionSettings, person: Detector | None = None):
        if person is None:
            raise ValueError("person regions need the person model (detector.person_model)")
        self.person, self.settings = person, settings
        self._found_at: float | None = None
        self._persons: list[BBox] = []
        self.last_ms = 0.0  # time of this frame's person pass; 0 when the persons were reused

    def persons(self, image: np.ndarray, at: float) -> list[BBox]:
        """People in the frame, largest first: found now, or reused from a recent frame."""
        fresh = self._found_at is not None and 0 <= at - self._found_at < self.settings.person_every_s
        if fresh:
            self.last_ms = 0.0
            return self._persons
        started = time.perf_counter()
        found = [d.box for d in self.person.detect(image) if d.label == PERSON_LABEL]
        self.last_ms = (time.perf_counter() - started) * 1000
        self._persons = sorted(found, key=lambda b: -b.area)
        self._found_at = at
        return self._persons

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        h, w = image.shape[:2]
        crops = [Region(self.kind, square_crop(box, w, h, self.settings.crop_grow, self.settings.min_crop))
                 for box in self.persons(image, at)]
        return without_repeats(crops)
