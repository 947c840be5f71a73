"""The model bundles shipped in models/: they load, their weights are the ones model.json
names, they find the drawn pistol, and gun-yolov4-tiny stays off the pjreddie library."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.errors import BackendUnavailable
from gunwatch.model import load_model
from gunwatch.training.runs.bundle import sha256

from ..conftest import need

MODELS = Path(__file__).resolve().parents[2] / "models"
BUNDLES = ["gun-yolov3-tiny", "gun-yolov4-tiny"]


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_finds_the_drawn_pistol_at_its_own_threshold(name):
    model = load_model(MODELS / name)
    assert sha256(model.weights) == model.meta.provenance["weights_sha256"]
    detector = create_detector("opencv", model, DetectorSettings())
    found = detector.detect(cv2.imread(str(MODELS / "drawn-pistol.jpg")))
    detector.close()
    assert [d.label for d in found] == ["gun"]
    assert found[0].confidence >= model.meta.thresholds.confidence


def plain_fusion(model):
    """The same members with the mirrored looks off: the fusion of the first look alone."""
    spec = model.spec.model_copy(update={"mirrored": False, "mirror_trigger": None})
    return model.model_copy(update={"meta": model.meta.model_copy(update={"ensemble": spec})})


class CountingLook:
    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, 0

    def detect(self, frame):
        self.calls += 1
        return self.inner.detect(frame)

    def close(self):
        self.inner.close()


def test_ensemble_bundle_fuses_its_members_boxes_on_the_drawn_pistol():
    """The fused box sits between the members' own boxes and scores their mean when both see
    the pistol: the fusion runs on what the real networks return, not on made-up boxes."""
    model = plain_fusion(load_model(MODELS / "gun-tiny-ensemble"))
    assert [m.name for m in model.members] == ["gun-tiny-ensemble-yolov3-tiny", "gun-tiny-ensemble-yolov4-tiny"]
    assert all(sha256(m.weights) == m.meta.provenance["weights_sha256"] for m in model.members)
    picture = cv2.imread(str(MODELS / "drawn-pistol.jpg"))
    singles = []
    for member in model.members:
        detector = create_detector("opencv", member, DetectorSettings(nms=model.meta.thresholds.nms))
        singles.append(detector.detect(picture)[0])
        detector.close()
    detector = create_detector("opencv", model)
    found = detector.detect(picture)
    detector.close()
    assert detector.name == "opencv+opencv"
    assert [d.label for d in found] == ["gun"]
    assert found[0].confidence == pytest.approx(sum(d.confidence for d in singles) / 2, abs=1e-6)
    xs = sorted(d.box.x for d in singles)
    assert xs[0] <= found[0].box.x <= xs[1]
    assert found[0].confidence >= model.meta.thresholds.confidence


def test_default_ensemble_looks_at_the_mirror_only_where_the_plain_fusion_has_a_candidate():
    """gun-tiny-ensemble (`ensemble.mirror_trigger`): the drawn pistol gets the mirrored looks
    and is boxed where the plain fusion boxes it; an empty wall does not pay for them."""
    model = load_model(MODELS / "gun-tiny-ensemble")
    assert model.spec.mirrored and model.spec.mirror_trigger == pytest.approx(0.30)
    detector = create_detector("opencv", model)
    detector.second_look = [CountingLook(look) for look in detector.second_look]
    plain = create_detector("opencv", plain_fusion(model))
    wall = np.full((720, 1280, 3), 128, np.uint8)
    assert detector.detect(wall) == [] and sum(look.calls for look in detector.second_look) == 0
    picture = cv2.imread(str(MODELS / "drawn-pistol.jpg"))
    (fused,), (alone,) = detector.detect(picture), plain.detect(picture)
    detector.close(), plain.close()
    assert [look.calls for look in detector.second_look] == [1, 1]
    assert fused.box.iou(alone.box) > 0.8 and fused.confidence >= model.meta.thresholds.confidence


def test_mirrored_ensemble_adds_each_members_look_at_the_flipped_picture():
    """gun-tiny-ensemble-mirrored (`ensemble.mirrored`, no trigger): the default's member
    weights, four looks fused on every picture; the flipped looks' boxes come back unflipped,
    so the pistol is boxed where the plain fusion boxes it."""
    model = load_model(MODELS / "gun-tiny-ensemble-mirrored")
    default = load_model(MODELS / "gun-tiny-ensemble")
    assert model.spec.mirrored and model.spec.mirror_trigger is None
    assert [m.weights.resolve() for m in model.members] == [m.weights.resolve() for m in default.members]
    picture = cv2.imread(str(MODELS / "drawn-pistol.jpg"))
    plain, mirrored = create_detector("opencv", plain_fusion(default)), create_detector("opencv", model)
    (alone,), (fused,) = plain.detect(picture), mirrored.detect(picture)
    plain.close(), mirrored.close()
    assert mirrored.name == "opencv+opencv+opencv-mirrored+opencv-mirrored"
    assert fused.box.iou(alone.box) > 0.8
    assert fused.confidence >= model.meta.thresholds.confidence


@pytest.mark.darknet
def test_yolov4_tiny_bundle_is_refused_by_debian_darknet_and_auto_picks_another(tmp_path, monkeypatch):
    debian = Path("/usr/lib/darknet/libdarknet.so")
    need(debian.exists(), "Debian libdarknet.so missing (apt-get install darknet)")
    model = load_model(MODELS / "gun-yolov4-tiny")
    with pytest.raises(BackendUnavailable, match="pjreddie API"):
        create_detector("darknet", model, library=str(debian))
    # the default ensemble says which member that library cannot run, and the way out
    with pytest.raises(BackendUnavailable, match=r"gun-tiny-ensemble: member gun-tiny-ensemble-yolov4-tiny: .*pjreddie API"
                       r".*Or run one network alone: detector.model: \S+/gun-tiny-ensemble/yolov3-tiny-s27\."):
        create_detector("darknet", load_model("gun-tiny-ensemble"), library=str(debian))
    monkeypatch.setenv("GUNWATCH_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GUNWATCH_DARKNET_LIB", str(debian))
    detector = create_detector("auto", model)
    assert detector.name in ("opencv", "torch")
    detector.close()
