"""Motion regions, as NVRs find them (Frigate runs its object detector on regions around
motion for the same reason gunwatch does): the frame, shrunk and blurred, against a running
average of earlier frames; pixels that changed by more than `motion_threshold` grey levels are
grouped, and each group becomes a square crop. For cameras whose people are too small or too
hidden for the person model.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..domain import BBox
from ..registry import register
from .base import Region, square_crop, without_repeats
from .config import RegionSettings

WORK_WIDTH = 320          # motion is found at this width: enough for a walking person, cheap
BACKGROUND_WEIGHT = 0.2   # how fast the running average follows the scene
MIN_BLOB_PIXELS = 12      # at WORK_WIDTH: smaller changes are noise (compression, leaves)
SCENE_CHANGE = 0.5        # more than this share of the frame changed: light switch or camera move


@register("region", "motion")
class MotionRegions:
    kind = "motion"

    def __init__(self, settings: RegionSettings, person=None):
        self.settings = settings
        self._background: np.ndarray | None = None

    def moving_boxes(self, image: np.ndarray) -> list[BBox]:
        """Boxes around changed pixels in frame pixels, largest first; none on the first frame
        and on a frame where most of the scene changed at once (the average starts anew)."""
        h, w = image.shape[:2]
        scale = min(1.0, WORK_WIDTH / w)
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0).astype(np.float32)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey
            return []
        changed = (cv2.absdiff(grey, self._background) > self.settings.motion_threshold).astype(np.uint8)
        cv2.accumulateWeighted(grey, self._background, BACKGROUND_WEIGHT)
        if changed.mean() > SCENE_CHANGE:
            self._background = grey
            return []
        changed = cv2.dilate(changed, np.ones((3, 3), np.uint8), iterations=2)
        count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
        boxes = [BBox(x / scale, y / scale, bw / scale, bh / scale)
                 for x, y, bw, bh, area in stats[1:count] if area >= MIN_BLOB_PIXELS]
        return sorted(boxes, key=lambda b: -b.area)

    def propose(self, image: np.ndarray, at: float) -> list[Region]:
        h, w = image.shape[:2]
        crops = [Region(self.kind, square_crop(box, w, h, self.settings.crop_grow, self.settings.min_crop))
                 for box in self.moving_boxes(image)]
        return without_repeats(crops)
