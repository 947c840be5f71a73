"""Reading the rotation of an exported picture from its black corners, and the ellipse boxes."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.training.data.prepare import prepare
from gunwatch.training.data.rotated_boxes import estimate_rotation, tighten, upright


def textured(size=416, seed=0) -> np.ndarray:
    """A bright picture with structure, so that no corner is dark before the rotation."""
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    return cv2.resize(base, (size, size), interpolation=cv2.INTER_LINEAR)


def turned(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    out = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))
    ok, jpeg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])   # exports are JPEG
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("degrees", [3.0, 12.5, -20.0, 33.0])
def test_angle_read_from_the_corners(degrees):
    found = estimate_rotation(turned(textured(), degrees))
    assert found.degrees == pytest.approx(degrees, abs=0.75)   # signed, as cv2 turns


def test_unturned_picture_reads_zero_and_a_black_one_reads_unknown():
    assert estimate_rotation(textured()).degrees == 0.0
    assert estimate_rotation(np.zeros((416, 416, 3), np.uint8)).degrees is None


def test_non_square_canvas():
    found = estimate_rotation(turned(cv2.resize(textured(), (640, 360)), 15.0))
    assert found.degrees == pytest.approx(15.0, abs=0.75)


def test_ellipse_box_by_hand():
    # a 200x100 px box turned 30 degrees: envelope 223.2 x 186.6 px;
    # the inscribed ellipse's envelope: sqrt(200^2 cos^2 + 100^2 sin^2) = 180.28,
    # sqrt(200^2 sin^2 + 100^2 cos^2) = 132.29
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    envelope = (0, 0.5, 0.4, (200 * c + 100 * s) / 416, (200 * s + 100 * c) / 416)
    (_, cx, cy, w, h), = tighten([envelope], 30.0, 416, 416)
    assert (cx, cy) == pytest.approx((0.5, 0.4))
    assert (w * 416, h * 416) == pytest.approx((180.28, 132.29), abs=0.01)


def test_no_rotation_and_boxes_on_the_border_change_nothing():
    box = (0, 0.5, 0.5, 0.3, 0.2)
    assert tighten([box], 0.4, 416, 416) == [box]
    on_left, on_bottom = (0, 0.15, 0.5, 0.3, 0.2), (0, 0.5, 0.9, 0.3, 0.2)
    assert tighten([on_left, on_bottom, box], 20.0, 416, 416)[:2] == [on_left, on_bottom]
    assert tighten([box], 20.0, 416, 416)[0][3] < 0.3


def test_prepare_tightens_train_only(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    envelope = f"0 0.5 0.5 {(160 * c + 60 * s) / 416:.6f} {(160 * s + 60 * c) / 416:.6f}\n"
    for name, split in (("a", "train"), ("b", "valid")):
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), turned(textured(seed=1), 25.0))
        (root / "labels" / f"{name}.txt").write_text(envelope)
    (root / "splits.csv").write_text("file,split\na.jpg,train\nb.jpg,valid\n")
    result = prepare(root, tmp_path / "out", class_names=["gun"], split="file", tighten_rotated=True)
    assert result.rotated["rotated"] == 1 and result.rotated["area_ratio"] < 0.8
    train_w = float((tmp_path / "out" / "labels" / "a.txt").read_text().split()[3])
    valid_w = float((tmp_path / "out" / "labels" / "b.txt").read_text().split()[3])
    assert train_w * 416 == pytest.approx(math.hypot(160 * c, 60 * s), abs=2.0)
    assert valid_w == pytest.approx(float(envelope.split()[3]), abs=1e-6)


def test_upright_turns_the_picture_and_its_box_back():
    picture = textured(seed=2)
    cv2.rectangle(picture, (100, 150), (260, 210), (255, 255, 255), -1)   # the 160x60 "object"
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    # the export's label: the envelope of the turned box about its turned centre
    x, y = cv2.getRotationMatrix2D((208, 208), 25.0, 1.0) @ np.array([180.0, 180.0, 1.0])
    envelope = (0, x / 416, y / 416, (160 * c + 60 * s) / 416, (160 * s + 60 * c) / 416)
    shown = turned(picture, 25.0)
    reading = estimate_rotation(shown)
    back, ((_, cx, cy, w, h),) = upright(shown, [envelope], reading.degrees)
    assert (cx * 416, cy * 416, w * 416, h * 416) == pytest.approx((180, 180, 160, 60), abs=3.0)
    middle = slice(130, 290)
    assert np.abs(back[middle, middle].astype(int) - picture[middle, middle]).mean() < 8
    assert np.abs(shown[middle, middle].astype(int) - picture[middle, middle]).mean() > 30


def test_upright_refuses_border_boxes_and_small_angles():
    shown = turned(textured(), 20.0)
    assert upright(shown, [(0, 0.1, 0.5, 0.25, 0.2)], 20.0) is None
    assert upright(shown, [(0, 0.5, 0.5, 0.25, 0.2)], 0.5) is None


def test_prepare_adds_upright_copies_to_train(tmp_path):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    c, s = math.cos(math.radians(25)), math.sin(math.radians(25))
    cv2.imwrite(str(root / "images" / "a.jpg"), turned(textured(seed=1), 25.0))
    (root / "labels" / "a.txt").write_text(f"0 0.5 0.5 {(160 * c + 60 * s) / 416:.6f} "
                                           f"{(160 * s + 60 * c) / 416:.6f}\n")
    cv2.imwrite(str(root / "images" / "b.jpg"), textured(seed=3))
    (root / "labels" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "splits.csv").write_text("file,split\na.jpg,train\nb.jpg,valid\n")
    out = tmp_path / "out"
    result = prepare(root, out, class_names=["gun"], split="file", upright_rotated=True)
    assert result.rotated["upright"] == 1 and result.splits == {"train": 2, "valid": 1}
    train = (out / "train.txt").read_text().split()
    assert [Path(p).name for p in train] == ["a.jpg", "a.upright.jpg"]
    assert (out / "upright" / "a.upright.jpg").exists()
    # without --tighten-rotated the turned picture keeps its envelope; the copy gets the exact box
    assert float((out / "labels" / "a.txt").read_text().split()[3]) * 416 == pytest.approx(160 * c + 60 * s, abs=0.01)
    _, cx, cy, w, h = map(float, (out / "labels" / "a.upright.txt").read_text().split())
    # the angle reads to a quarter degree, and the inversion magnifies that a little
    assert (w * 416, h * 416) == pytest.approx((160, 60), abs=1.5)
    assert (out / "valid.txt").read_text().split()[0].endswith("b.jpg")
