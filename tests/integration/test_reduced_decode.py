"""Detections on a reduced JPEG decode match those on the full decode, in original pixels.

The two inputs are not identical (libjpeg's DCT-domain downscale against bilinear sampling of
the full image), and yolov3-tiny moves a box edge by ~10% on such changes; a scale or
orientation bug would put boxes elsewhere entirely (IoU near 0)."""

import cv2
import numpy as np

from gunwatch.decode import decode_for_detection
from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector

from .test_backends_agree import match


def test_reduced_decode_finds_the_same_objects(coco_tiny, sample_photos):
    detector = create_detector("opencv", coco_tiny, DetectorSettings(confidence=0.3))
    compared, worst = 0, 0.0
    for path in sample_photos:
        photo = cv2.imread(str(path))
        scale = max(1920 / photo.shape[1], 1080 / photo.shape[0])
        big = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)[:1080, :1920]
        data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
        full = detector.detect(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))
        image, sx, sy = decode_for_detection(data, coco_tiny.meta.input)
        assert image.shape[1] < 1920
        reduced = [d.scaled(sx, sy) for d in detector.detect(image)]
        pairs, only_full, only_reduced = match(full, reduced)
        for a, b, iou in pairs:
            assert iou >= 0.7, f"{path.name}: {a} vs {b}"
            worst = max(worst, abs(a.confidence - b.confidence))
        for leftover in only_full + only_reduced:
            assert leftover.confidence < 0.4, f"{path.name}: unmatched {leftover}"
        compared += len(pairs)
    assert compared >= 10
    assert worst <= 0.1
