"""The region stage: between a frame and the gun detector, it decides where the gun model looks.

For each frame it asks the camera's region modes (whole, person, motion, tiles) for regions,
keeps at most `max_regions` of them (the whole frame first, then each mode's own order:
largest person or moving area first), runs the gun detector on each crop, moves the boxes back
into frame pixels and merges them across regions with one NMS. Everything after it (zones,
sizes, confirmation, write-back, snapshots, alerts) sees ordinary detections in frame pixels.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import registry
from ..detectors.base import Detector
from ..domain import Detection
from .base import Region, merge, to_frame
from .config import RegionSettings, resolve_modes

log = logging.getLogger(__name__)



@dataclass
class RegionResult:
    """One frame through the region stage: its detections (frame pixels) and what it cost."""

    detections: list[Detection]
    regions: list[Region]
    dropped: int = 0                 # regions proposed but over the per-frame cap
    person_ms: float = 0.0           # 0 when no person pass ran (none asked, or reused)
    gun_ms: float = 0.0              # all gun passes of the frame together


@dataclass
class _Camera:
    settings: RegionSettings
    proposers: dict[str, object] = field(default_factory=dict)


class RegionDetector:
    """The gun detector applied to the regions of each camera's frames.

    `settings_for(camera)` gives a camera's RegionSettings; `person` is the one person detector
    shared by all cameras (None when no camera may use person regions). Both detectors belong
    to the caller, which closes them: a config reload builds a new stage around the same ones."""

    def __init__(self, gun: Detector, nms: float, model_side: int,
                 settings_for: Callable[[str], RegionSettings], person: Detector | None = None):
        self.gun, self.nms, self.model_side = gun, nms, model_side
        self.settings_for, self.person = settings_for, person
        self._cameras: dict[str, _Camera] = {}

    @property
    def name(self) -> str:
        return self.gun.name

    def _camera(self, camera: str) -> _Camera:
        state = self._cameras.get(camera)
        if state is None:
            state = self._cameras[camera] = _Camera(self.settings_for(camera))
        return state

    def _proposer(self, state: _Camera, mode: str):
        proposer = state.proposers.get(mode)
        if proposer is None:
            cls = registry.lookup("region", mode)
            proposer = state.proposers[mode] = cls(state.settings, self.person)
        return proposer

    def regions(self, camera: str, image: np.ndarray, at: float) -> tuple[list[Region], int, float]:
        """The regions a frame gets, the number dropped by the cap, and the person pass's ms."""
        state = self._camera(camera)
        h, w = image.shape[:2]
        proposed: list[Region] = []
        person_ms = 0.0
        plan = resolve_modes(state.settings, w, h, self.model_side)
        for mode in plan.modes:
            proposer = self._proposer(state, mode)
            proposed += proposer.propose(image, at)
            person_ms += getattr(proposer, "last_ms", 0.0)
        if plan.whole_when_empty and not proposed:
            proposed = self._proposer(state, "whole").propose(image, at)
        # The whole frame first: it is today's view, and never worse than without regions.
        proposed.sort(key=lambda r: r.kind != "whole")
        cap = state.settings.max_regions
        return proposed[:cap], max(0, len(proposed) - cap), person_ms

    def detect_regions(self, camera: str, image: np.ndarray, at: float) -> RegionResult:
        regions, dropped, person_ms = self.regions(camera, image, at)
        started = time.perf_counter()
        found: list[Detection] = []
        for region in regions:
            crop = region.crop(image)
            if crop.shape[0] < 2 or crop.shape[1] < 2:
                continue
            found += to_frame(self.gun.detect(crop), region)
        gun_ms = (time.perf_counter() - started) * 1000
        return RegionResult(merge(found, self.nms), regions, dropped, person_ms, gun_ms)

