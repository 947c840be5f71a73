"""pycocotools as an independent reference for AP (a test extra: `pip install -e .[test]`)."""
from __future__ import annotations

import contextlib
import importlib.util
import io

import numpy as np

from tests.conftest import need


def coco_ap(dets, truths, iou: float | None = None) -> float:
    """AP from pycocotools (in pixels of a 1000x1000 image) with 10001 recall points, which
    approximates the area under the curve; iou=None gives COCO's mean over .50:.95."""
    need(importlib.util.find_spec("pycocotools") is not None,
         "pycocotools missing: pip install -e .[test]")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        return _coco_ap(COCO, COCOeval, dets, truths, iou)


def _coco_ap(COCO, COCOeval, dets, truths, iou: float | None) -> float:
    def xywh(b):
        cx, cy, w, h = (v * 1000 for v in b)
        return [cx - w / 2, cy - h / 2, w, h]

    gt = COCO()
    gt.dataset = {"images": [{"id": i, "width": 1000, "height": 1000} for i in range(len(truths))],
                  "categories": [{"id": 1, "name": "gun"}],
                  "annotations": [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": xywh(row[1:5]),
                                   "area": row[3] * row[4] * 1e6, "iscrowd": 0}
                                  for k, (i, row) in enumerate((i, r) for i, t in enumerate(truths) for r in t)]}
    gt.createIndex()
    dt = gt.loadRes([{"image_id": i, "category_id": 1, "bbox": xywh(b), "score": s}
                     for i, d in enumerate(dets) for (_, s, b) in d])
    ev = COCOeval(gt, dt, "bbox")
    ev.params.recThrs = np.linspace(0, 1, 10001)
    ev.params.maxDets = [1000]
    ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e12]], ["all"]
    ev.evaluate()
    ev.accumulate()
    precision = ev.eval["precision"][:, :, 0, 0, 0]  # [iou threshold, recall point]
    if iou is not None:
        precision = precision[[int(round((iou - .5) / .05))]]
    return float(np.mean([p[p > -1].mean() for p in precision]))
