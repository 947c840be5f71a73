"""The darknet and opencv backends give the same detections on the same model and photos, with
every libdarknet family (tests/conftest.py: darknet_library)."""

from __future__ import annotations

import cv2
import pytest

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector

pytestmark = pytest.mark.darknet
CONF = 0.25


@pytest.fixture(scope="module")
def detectors(coco_tiny, darknet_library):
    settings = DetectorSettings(confidence=CONF, nms=0.45)
    darknet = create_detector("darknet", coco_tiny, settings, library=str(darknet_library.path))
    # hank-ai cannot resize at run time, so its detector turns rect input off: OpenCV must see
    # the same network input for the comparison to mean anything.
    same_input = coco_tiny.model_copy(update={"meta": coco_tiny.meta.model_copy(update={"input": darknet.spec})})
    pair = darknet, create_detector("opencv", same_input, settings)
    yield pair
    for d in pair:
        d.close()


def match(a, b):
    """Greedy pairs of same-label detections, best IoU first; returns pairs and leftovers."""
    candidates = sorted(((x.box.iou(y.box), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                         if x.label == y.label), reverse=True)
    used_a, used_b, pairs = set(), set(), []
    for iou, i, j in candidates:
        if i not in used_a and j not in used_b and iou > 0.5:
            used_a.add(i), used_b.add(j)
            pairs.append((a[i], b[j], iou))
    return pairs, [a[i] for i in range(len(a)) if i not in used_a], [b[j] for j in range(len(b)) if j not in used_b]


def test_backends_agree_on_real_photos(detectors, sample_photos, pistols_test_images):
    darknet, opencv = detectors
    photos = sample_photos + pistols_test_images[:6]
    compared = 0
    for path in photos:
        image = cv2.imread(str(path))
        a, b = darknet.detect(image), opencv.detect(image)
        pairs, only_a, only_b = match(a, b)
        for x, y, iou in pairs:
            assert iou >= 0.9, f"{path.name}: {x} vs {y}"
            assert abs(x.confidence - y.confidence) <= 0.05, f"{path.name}: {x} vs {y}"
        # A box may sit on the threshold in one engine and just under it in the other.
        for leftover in only_a + only_b:
            assert leftover.confidence < CONF + 0.05, f"{path.name}: unmatched {leftover}"
        compared += len(pairs)
    assert compared >= 20, f"only {compared} matched detections: the test proves too little"
