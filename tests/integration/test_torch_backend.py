"""The torch backend gives the opencv backend's detections: box for box in float32, within
bfloat16's rounding otherwise, on the shipped gun model and the person model of person regions."""

from __future__ import annotations

import sys

import cv2
import pytest

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.errors import BackendUnavailable
from gunwatch.model import load_model

from ..conftest import need_torch
from .test_backends_agree import match

need_torch()
CONF = 0.25


def compare(model_name: str, precision: str, photos, labels=None):
    model, settings = load_model(model_name), DetectorSettings(confidence=CONF)
    opencv = create_detector("opencv", model, settings)
    torch_ = create_detector("torch", model, settings, precision=precision)
    pairs, leftovers = [], []
    for path in photos:
        image = cv2.imread(str(path))
        wanted = [d for d in opencv.detect(image) if labels is None or d.label in labels]
        got = [d for d in torch_.detect(image) if labels is None or d.label in labels]
        matched, only_opencv, only_torch = match(wanted, got)
        pairs += matched
        leftovers += only_opencv + only_torch
    return pairs, leftovers


@pytest.mark.parametrize("model_name, labels", [("gun-yolov3-tiny", None), ("person-yolov4-tiny", {"person"})])
def test_float32_gives_the_opencv_boxes(model_name, labels, sample_photos, pistols_test_images):
    pairs, leftovers = compare(model_name, "float32", sample_photos + pistols_test_images[:24], labels)
    assert len(pairs) >= 10 and not leftovers
    for a, b, iou in pairs:
        assert iou >= 0.99 and abs(a.confidence - b.confidence) <= 0.005, (a, b)


@pytest.mark.parametrize("model_name, labels", [("gun-yolov3-tiny", None), ("person-yolov4-tiny", {"person"})])
def test_bfloat16_stays_within_its_rounding(model_name, labels, sample_photos, pistols_test_images):
    pairs, leftovers = compare(model_name, "bfloat16", sample_photos + pistols_test_images[:24], labels)
    assert len(pairs) >= 10
    for a, b, iou in pairs:
        assert iou >= 0.8 and abs(a.confidence - b.confidence) <= 0.05, (a, b)
    # a box only one engine reports sits at the threshold, where rounding decides
    assert all(d.confidence < CONF + 0.05 for d in leftovers), leftovers


def test_without_pytorch_the_backend_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendUnavailable, match="pip install torch"):
        create_detector("torch", load_model("gun-yolov3-tiny"))
