"""The detector interface shared by every backend, and the pre/post-processing they share.

Both backends feed the network the same prepared input and decode the same way, so the only
difference between them is the engine that runs the layers. That is what makes their results
comparable box for box, and lets `auto` choose on speed alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from ..domain import BBox, Detection
from ..model import AnyModel, InputSpec


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds applied after the network; None means the model bundle's default."""

    confidence: float | None = None
    nms: float | None = None

    def resolve(self, model: AnyModel) -> tuple[float, float]:
        conf = model.meta.thresholds.confidence if self.confidence is None else self.confidence
        nms = model.meta.thresholds.nms if self.nms is None else self.nms
        return conf, nms


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Objects in one BGR image (any size), boxes in that image's pixels."""

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class InputTransform:
    """How a source image was placed into the network input, to map boxes back."""

    source_w: int
    source_h: int
    net_w: int
    net_h: int
    placed_w: int  # size of the image inside the network input
    placed_h: int
    pad_x: int
    pad_y: int

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) centre-x, centre-y, w, h as fractions of the network input -> pixel x, y, w, h."""
        sx = self.source_w / self.placed_w
        sy = self.source_h / self.placed_h
        out = np.empty_like(boxes)
        out[:, 2] = boxes[:, 2] * self.net_w * sx
        out[:, 3] = boxes[:, 3] * self.net_h * sy
        out[:, 0] = (boxes[:, 0] * self.net_w - self.pad_x) * sx - out[:, 2] / 2
        out[:, 1] = (boxes[:, 1] * self.net_h - self.pad_y) * sy - out[:, 3] / 2
        return out


def placement(source_w: int, source_h: int, spec: InputSpec) -> InputTransform:
    """Where a source image goes in the network input.

    letterbox: scaled to fit with its aspect ratio, centred on mid-grey, with darknet's integer
    arithmetic so boxes land on the same pixels as in darknet. rect (with letterbox): whole
    32-pixel bands of that padding are cut off each side, so the network does less work while
    the picture keeps its place relative to the YOLO grid (stride 32). Shrinking the input to
    the picture's own footprint instead would shift the grid, which moved yolov3-tiny's scores
    by up to 0.2 in our tests. Not letterbox: stretched to the model's input size."""
    net_w, net_h = spec.width, spec.height
    if not spec.letterbox:
        return InputTransform(source_w, source_h, net_w, net_h, net_w, net_h, 0, 0)
    if net_w / source_w < net_h / source_h:
        placed_w, placed_h = net_w, (source_h * net_w) // source_w
    else:
        placed_w, placed_h = (source_w * net_h) // source_h, net_h
    pad_x, pad_y = (net_w - placed_w) // 2, (net_h - placed_h) // 2
    cut_x, cut_y = ((pad_x // 32) * 32, (pad_y // 32) * 32) if spec.rect else (0, 0)
    return InputTransform(source_w, source_h, net_w - 2 * cut_x, net_h - 2 * cut_y,
                          placed_w, placed_h, pad_x - cut_x, pad_y - cut_y)


def prepare_input(frame: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, InputTransform]:
    """BGR uint8 image -> float32 RGB CHW in 0..1 at the network size, plus the transform."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    h, w = frame.shape[:2]
    t = placement(w, h, spec)
    # Bilinear, like darknet's resize_image: INTER_AREA looks nicer but moves scores by up to
    # 0.05 against what darknet itself computes on the same picture.
    resized = cv2.resize(frame, (t.placed_w, t.placed_h), interpolation=cv2.INTER_LINEAR)
    placed = cv2.dnn.blobFromImage(resized, 1 / 255.0, swapRB=True)[0]
    if (t.placed_w, t.placed_h) == (t.net_w, t.net_h):
        return placed, t
    chw = np.full((3, t.net_h, t.net_w), 0.5, np.float32)  # darknet pads with mid-grey
    chw[:, t.pad_y:t.pad_y + t.placed_h, t.pad_x:t.pad_x + t.placed_w] = placed
    return chw, t


def postprocess(boxes: np.ndarray, scores: np.ndarray, transform: InputTransform,
                names: list[str], confidence: float, nms: float) -> list[Detection]:
    """Best class per box, confidence filter, per-class NMS; boxes in source pixels, best first."""
    if len(boxes) == 0:
        return []
    class_ids = scores.argmax(axis=1)
    best = scores[np.arange(len(scores)), class_ids]
    keep = best >= confidence
    if not keep.any():
        return []
    pixel = transform.to_source(boxes[keep])
    best, class_ids = best[keep], class_ids[keep]
    chosen = cv2.dnn.NMSBoxesBatched(pixel.tolist(), best.tolist(), class_ids.tolist(),
                                     confidence, nms)
    order = sorted(np.asarray(chosen, dtype=int).reshape(-1), key=lambda i: -best[i])
    detections = []
    for i in order:
        box = BBox(*map(float, pixel[i])).clipped(transform.source_w, transform.source_h)
        if box.area > 0:
            detections.append(Detection(names[class_ids[i]], float(best[i]), box))
    return detections
