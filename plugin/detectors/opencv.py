"""Detector backend running the model through OpenCV DNN (the seed study's engine)."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict

import cv2
import numpy as np

from ..domain import Detection
from ..errors import BackendUnavailable, ConfigError
from ..model import ModelBundle
from ..registry import register
from .base import DetectorSettings, postprocess, prepare_input

log = logging.getLogger(__name__)

# OpenCV's darknet importer zeroes every class score under a [yolo] layer's `thresh` option
# (0.2 when absent), which would silently cap how low a confidence threshold can go. Writing our
# own threshold into the cfg keeps the two backends' outputs identical at any threshold.
_YOLO_SECTION = re.compile(r"^\s*\[(yolo|region)\]\s*$", re.MULTILINE | re.IGNORECASE)
_THRESH_OPTION = re.compile(r"^\s*thresh\s*=.*$", re.MULTILINE)


def cfg_with_score_floor(cfg_text: str, floor: float) -> str:
    without = _THRESH_OPTION.sub("", cfg_text)
    return _YOLO_SECTION.sub(lambda m: f"{m.group(0)}\nthresh={floor:.6f}", without)


def cuda_available() -> bool:
    try:
        return cv2.cuda.getCudaEnabledDeviceCount() > 0
    except (cv2.error, AttributeError):
        return False


@register("detector", "opencv")
class OpenCVDetector:
    """YOLO through cv2.dnn.readNetFromDarknet; CUDA target when OpenCV was built with it.

    OpenCV DNN sets a network up again whenever the input's shape changes, which costs more
    than the pass itself (yolov3-tiny, 2 cores: a 416x256 whole frame and a 416x416 crop took
    355 ms alternating, 148 ms grouped). The region stage alternates exactly so, so the
    detector keeps one network per input shape, a few at most."""

    name = "opencv"
    MAX_SHAPES = 4  # whole frames of two camera shapes, square crops, and one spare

    def __init__(self, model: ModelBundle, settings: DetectorSettings = DetectorSettings(),
                 target: str = "auto"):
        if target not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"opencv target {target!r} is unknown; choose auto, cpu or cuda")
        if not hasattr(cv2.dnn, "readNetFromDarknet"):
            raise BackendUnavailable(
                f"OpenCV {cv2.__version__} has no readNetFromDarknet (removed in 5.x); "
                "install opencv-python-headless<5")
        self.model = model
        self.confidence, self.nms = settings.resolve(model)
        self._cfg = np.frombuffer(
            cfg_with_score_floor(model.cfg.read_text(encoding="utf-8"), self.confidence).encode(), np.uint8)
        self._weights = np.fromfile(model.weights, np.uint8)
        use_cuda = target == "cuda" or (target == "auto" and cuda_available())
        if target == "cuda" and not cuda_available():
            raise BackendUnavailable("opencv target cuda asked for, but this OpenCV build sees no "
                                     "CUDA device (opencv-python-headless from PyPI is CPU-only)")
        self.device = "cuda" if use_cuda else "cpu"
        self._nets: OrderedDict[tuple[int, int], cv2.dnn.Net] = OrderedDict()
        self.outputs = self._network((model.meta.input.height, model.meta.input.width)).getUnconnectedOutLayersNames()
        self.spec = model.meta.input
        log.info("opencv backend ready: model=%s device=%s", model.name, self.device)

    def _network(self, shape: tuple[int, int]) -> cv2.dnn.Net:
        """The network for inputs of this (height, width), the least recently used one given up
        when a new shape comes past MAX_SHAPES."""
        net = self._nets.get(shape)
        if net is not None:
            self._nets.move_to_end(shape)
            return net
        try:
            net = cv2.dnn.readNetFromDarknet(self._cfg, self._weights)
        except cv2.error as exc:
            raise BackendUnavailable(f"OpenCV cannot load {self.model.cfg}: {exc}") from exc
        if self.device == "cuda":
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
        self._nets[shape] = net
        if len(self._nets) > self.MAX_SHAPES:
            self._nets.popitem(last=False)
        return net

    def detect(self, frame: np.ndarray) -> list[Detection]:
        chw, transform = prepare_input(frame, self.spec)
        net = self._network(chw.shape[1:])
        net.setInput(chw[np.newaxis])
        rows = np.concatenate([out.reshape(-1, out.shape[-1]) for out in net.forward(self.outputs)])
        # Rows are centre-x, centre-y, w, h (fractions of the input), objectness, class scores
        # that already include the objectness.
        candidates = rows[rows[:, 4] > self.confidence]
        return postprocess(candidates[:, :4], candidates[:, 5:], transform, self.model.names,
                           self.confidence, self.nms)

    def close(self) -> None:
        self._nets.clear()
