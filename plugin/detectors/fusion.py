"""Several gun networks on the same picture, their boxes fused into one answer.

Two small networks trained apart make different mistakes. Fused, gun-yolov3-tiny and a
yolov4-tiny find 15 % more valid guns at precision 0.96 than gun-yolov3-tiny alone and come
within 0.1 point of the seed study's test mAP (models/gun-tiny-ensemble/MODEL_CARD.md). A gun both
see keeps its score; a box only one sees keeps a share of it, which removes most lone false
boxes.

The fusion is weighted boxes fusion (Solovyev, Wang and Gabruseva, "Weighted boxes fusion:
ensembling boxes from different object detection models", arXiv:1910.13302): boxes of all
members, surest first, join the cluster whose fused box they overlap most, when by more than
the IoU threshold; a cluster's box is the score-weighted mean of its boxes. Unlike NMS across
members, which keeps one member's box and drops the rest, it averages where the networks
disagree on the outline, and it scores by agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..domain import BBox, Detection
from .base import Detector


@dataclass
class _Cluster:
    label: str
    box: BBox
    weight: float = 0.0  # sum of the scores of the boxes that joined
    weighted_corners: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    best_by_member: dict[int, float] = field(default_factory=dict)

    def add(self, member: int, detection: Detection) -> None:
        b, score = detection.box, detection.confidence
        self.weight += score
        self.weighted_corners = tuple(total + score * corner for total, corner in
                                      zip(self.weighted_corners, (b.x, b.y, b.x + b.w, b.y + b.h)))
        self.best_by_member[member] = max(self.best_by_member.get(member, 0.0), score)
        if self.weight > 0:  # boxes of score 0 (a threshold set to 0) leave the first box as it is
            x0, y0, x1, y1 = (total / self.weight for total in self.weighted_corners)
            self.box = BBox(x0, y0, x1 - x0, y1 - y0)


def fuse_boxes(per_member: list[list[Detection]], iou: float) -> list[Detection]:
    """One list of detections per member (same picture, same pixels) -> fused detections, surest
    first. A fused box's confidence is the sum of each member's best score in its cluster over
    the number of members: two members at 0.8 give 0.8, one alone at 0.8 gives 0.4. Boxes of
    different labels never fuse."""
    ranked = sorted(((d.confidence, member, d) for member, found in enumerate(per_member) for d in found),
                    key=lambda r: -r[0])
    clusters: list[_Cluster] = []
    for _, member, detection in ranked:
        best, chosen = iou, None
        for cluster in clusters:
            if cluster.label == detection.label:
                overlap = cluster.box.iou(detection.box)
                if overlap > best:
                    best, chosen = overlap, cluster
        if chosen is None:
            chosen = _Cluster(detection.label, detection.box)
            clusters.append(chosen)
        chosen.add(member, detection)
    count = len(per_member)
    fused = [Detection(c.label, sum(c.best_by_member.values()) / count, c.box) for c in clusters]
    return sorted(fused, key=lambda d: -d.confidence)


class MirroredDetector:
    """A detector that looks at the frame mirrored left to right and reports boxes where they are
    on the unmirrored frame. Guns are drawn in either hand, so the mirror image is a picture of
    the same kind the network was trained on (training flips at random too), but its grid and
    anchors fall on the gun differently: a second, partly independent look for the fusion."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.name = f"{inner.name}-mirrored"
        self.device = getattr(inner, "device", "cpu")

    def detect(self, frame: np.ndarray) -> list[Detection]:
        width = frame.shape[1]
        found = self.inner.detect(np.ascontiguousarray(frame[:, ::-1]))
        return [Detection(d.label, d.confidence, BBox(width - d.box.x - d.box.w, d.box.y, d.box.w, d.box.h))
                for d in found]

    def close(self) -> None:
        pass  # the network is the unmirrored member's, which closes it


class FusedDetector:
    """Runs every member detector on the frame and fuses their boxes; keeps fused boxes at or
    above `confidence`. The members run one after the other: on the recorder's few cores two
    networks at once would only share the same cores.

    `second_look` detectors (the members' mirrored looks) join the fusion as more members. With
    `second_look_trigger` they run only when the first look's fusion already has a box at or
    above it; a frame without one keeps the first look's answer, scored among the first-look
    members only. The first look's fused score decides because that is what the second look
    would refine: a frame where no member sees anything gun-like is not worth twice the time."""

    def __init__(self, members: list[Detector], iou: float, confidence: float,
                 second_look: list[Detector] | None = None,
                 second_look_trigger: float | None = None) -> None:
        self.members = members
        self.second_look = second_look or []
        self.second_look_trigger = second_look_trigger
        self.iou = iou
        self.confidence = confidence
        looks = members + self.second_look
        self.name = "+".join(m.name for m in looks)
        self.device = "+".join(sorted({getattr(m, "device", "cpu") for m in looks}))

    def detect(self, frame: np.ndarray) -> list[Detection]:
        found = [m.detect(frame) for m in self.members]
        fused = fuse_boxes(found, self.iou)
        if self.second_look and (self.second_look_trigger is None
                                 or (fused and fused[0].confidence >= self.second_look_trigger)):
            fused = fuse_boxes(found + [m.detect(frame) for m in self.second_look], self.iou)
        return [d for d in fused if d.confidence >= self.confidence]

    def close(self) -> None:
        for member in self.members + self.second_look:
            member.close()
