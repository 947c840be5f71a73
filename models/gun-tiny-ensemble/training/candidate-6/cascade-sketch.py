"""Throwaway sketch (session 29): mirrored looks only where the plain ensemble already has a
fused box at or above TRIGGER; valid AP@0.50, guns at precision >= 0.96, and the share of
pictures that pay for the mirror. Member boxes cached once per picture."""
import sys, json
sys.path.insert(0, "/work/main/benchmarks")
import cv2
from thresholds import load_split, DATASET, average_precision, recall_at_precision, score
from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.detectors.fusion import fuse_boxes
from gunwatch.domain import Detection, BBox
from gunwatch.model import load_model

items = load_split(DATASET, "valid", None)
model = load_model("gun-tiny-ensemble")
members = [create_detector("opencv", m, DetectorSettings(confidence=0.05, nms=0.45)) for m in model.members]
cache = []
for image, truths in items:
    frame = cv2.imread(str(image)); w = frame.shape[1]
    plain = [m.detect(frame) for m in members]
    flipped = [[Detection(d.label, d.confidence, BBox(w - d.box.x - d.box.w, d.box.y, d.box.w, d.box.h))
                for d in m.detect(cv2.flip(frame, 1))] for m in members]
    cache.append((plain, flipped, truths))
truths = [c[2] for c in cache]
out = {}
for trigger in (None, 0.15, 0.25, 0.3, 0.35, 0.4, 1.01):
    dets, paid = [], 0
    for plain, flipped, _ in cache:
        two = fuse_boxes(plain, 0.5)
        if trigger is not None and (not two or two[0].confidence < trigger):
            dets.append(two)
        else:
            paid += 1
            dets.append(fuse_boxes(plain + flipped, 0.5))
    tp, fp, *_ = score(dets, truths, 0.45)
    out[str(trigger)] = {"ap50": round(average_precision(dets, truths), 4), "mirror_share": round(paid / len(cache), 3),
                         "at_0.45": {"tp": tp, "fp": fp}, "at_p0.96": recall_at_precision(dets, truths, 0.96)}
    print(trigger, out[str(trigger)], flush=True)
json.dump(out, open("/var/tmp/cascade/sketch.json", "w"), indent=1)
