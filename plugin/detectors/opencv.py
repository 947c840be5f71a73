"""Detector backend running the model through OpenCV DNN (the seed study's engine)."""

from __future__ import annotations

import logging
import re

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
    """YOLO through cv2.dnn.readNetFromDarknet; CUDA target when OpenCV was built with it."""

    name = "opencv"

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
        cfg_text = cfg_with_score_floor(model.cfg.read_text(encoding="utf-8"), self.confidence)
        try:
            self.net = cv2.dnn.readNetFromDarknet(
                np.frombuffer(cfg_text.encode(), np.uint8), np.fromfile(model.weights, np.uint8))
        except cv2.error as exc:
            raise BackendUnavailable(f"OpenCV cannot load {model.cfg}: {exc}") from exc
        use_cuda = target == "cuda" or (target == "auto" and cuda_available())
        if target == "cuda" and not cuda_available():
            raise BackendUnavailable("opencv target cuda asked for, but this OpenCV build sees no "
                                     "CUDA device (opencv-python-headless from PyPI is CPU-only)")
        if use_cuda:
            self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)
        self.device = "cuda" if use_cuda else "cpu"
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.spec = model.meta.input
        log.info("opencv backend ready: model=%s device=%s", model.name, self.device)

    def detect(self, frame: np.ndarray) -> list[Detection]:
        chw, transform = prepare_input(frame, self.spec)
        self.net.setInput(chw[np.newaxis])
        rows = np.concatenate([out.reshape(-1, out.shape[-1]) for out in self.net.forward(self.outputs)])
        # Rows are centre-x, centre-y, w, h (fractions of the input), objectness, class scores
        # that already include the objectness.
        candidates = rows[rows[:, 4] > self.confidence]
        return postprocess(candidates[:, :4], candidates[:, 5:], transform, self.model.names,
                           self.confidence, self.nms)

    def close(self) -> None:
        self.net = None
