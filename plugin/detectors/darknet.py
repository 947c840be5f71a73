"""Detector backend running the model through libdarknet.so (ctypes, see gunwatch.darknet)."""

from __future__ import annotations

import logging
import threading

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
        self.spec = model.meta.input
        if not self.network.can_resize:
            # hank-ai builds keep resize_network C++-only: run at the cfg's own size.
            log.warning("darknet library cannot resize networks: rect input off, input %dx%d",
                        self.network.width, self.network.height)
            self.spec = self.spec.model_copy(update={
                "rect": False, "width": self.network.width, "height": self.network.height})
        self._lock = threading.Lock()  # resize + predict must not interleave between threads
        self.device = "cuda" if self.library.cuda else "cpu"
        log.info("darknet backend ready: model=%s library=%s", model.name, self.library.describe())

    def detect(self, frame: np.ndarray) -> list[Detection]:
        chw, transform = prepare_input(frame, self.spec)
        with self._lock:
            # Cameras keep their frame size, so this resizes once per camera, not per frame.
            self.network.resize(transform.net_w, transform.net_h)
            boxes, scores = self.network.predict(chw, self.confidence)
        return postprocess(boxes, scores, transform, self.model.names, self.confidence, self.nms)

    def close(self) -> None:
        self.network.close()
