import sys, cv2
from pathlib import Path
from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.detectors.fusion import fuse_boxes
from gunwatch.model import load_model
from gunwatch.training.data.negatives import folder_pictures
model = load_model("gun-tiny-ensemble")
members = [create_detector("opencv", m, DetectorSettings(confidence=0.05, nms=0.45)) for m in model.members]
for folder in sys.argv[1:]:
    tops = []
    for p in folder_pictures(Path(folder)):
        f = cv2.imread(str(p))
        fused = fuse_boxes([m.detect(f) for m in members], 0.5)
        tops.append(fused[0].confidence if fused else 0.0)
    print(folder, len(tops), {t: round(sum(x >= t for x in tops) / len(tops), 3) for t in (0.15, 0.25, 0.3, 0.4)})
