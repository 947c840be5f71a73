"""Detector backend running the model through libdarknet.so (ctypes, see gunwatch.darknet)."""

from __future__ import annotations

import logging

import numpy as np

from ..darknet import Network, load_library
from ..domain import Detection
from ..model import ModelBundle
from ..registry import register
from .base import DetectorSettings, postprocess, prepare_input

log = logging.getLogger(__name__)


@register("detector", "darknet")
class DarknetDetector:
    """YOLO through libdarknet: CUDA builds where a GPU answers, Debian's CPU build otherwise."""

    name = "darknet"

    def __init__(self, model: ModelBundle, settings: DetectorSettings = DetectorSettings(),
                 library: str | None = None):
        self.model = model
        self.confidence, self.nms = settings.resolve(model)
        self.library = load_library(library)
        self.network = Network(model.cfg, model.weights, self.library)
        spec = model.meta.input
        self.network.resize(spec.width, spec.height)
        self.letterbox = spec.letterbox
        self.device = "cuda" if self.library.cuda else "cpu"
        log.info("darknet backend ready: model=%s library=%s", model.name, self.library.describe())

    def detect(self, frame: np.ndarray) -> list[Detection]:
        chw, transform = prepare_input(frame, self.network.width, self.network.height, self.letterbox)
        boxes, scores = self.network.predict(chw, self.confidence)
        return postprocess(boxes, scores, transform, self.model.names, self.confidence, self.nms)

    def close(self) -> None:
        self.network.close()
