"""Regions through the real backends: a small drawn pistol held by a real person in a 1080p frame,
which the whole frame shrunk to 416 misses and person crops and tiles find; and the same through
`gunwatch detect --regions` and a running pipeline's write-back, snapshot and /metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.detectors.base import DetectorSettings
from gunwatch.detectors.select import create_detector
from gunwatch.domain import BBox
from gunwatch.model import load_model
from gunwatch.regions.config import RegionSettings
from gunwatch.regions.stage import RegionDetector

from ..conftest import DARKNET_SAMPLES, REPO, need

PISTOL_W = 120          # the drawn picture's width in the frame: its pistol is about 46 px long
PERSON_H = 260
CONF = 0.5


def drawn_scene() -> tuple[np.ndarray, BBox]:
    """A 1080p grey frame with the person of darknet's person.jpg, 260 px tall, holding the
    bundled drawn pistol at arm's length; returns the frame and the pistol's box."""
    photo = cv2.imread(str(DARKNET_SAMPLES / "person.jpg"))
    need(photo is not None, f"no {DARKNET_SAMPLES}/person.jpg (apt-get install darknet)")
    man = photo[115:374, 192:274]                      # the person's box in the 640x424 photo
    man = cv2.resize(man, (round(man.shape[1] * PERSON_H / man.shape[0]), PERSON_H))
    pistol = cv2.imread(str(REPO / "models" / "drawn-pistol.jpg"))
    pistol = cv2.resize(pistol, (PISTOL_W, PISTOL_W * 480 // 640), interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 128, np.uint8)
    x0, y0 = 900, 500
    frame[y0:y0 + PERSON_H, x0:x0 + man.shape[1]] = man
    px, py = x0 + man.shape[1] - 10, y0 + PERSON_H // 3
    frame[py:py + pistol.shape[0], px:px + PISTOL_W] = pistol
    # where the gun model puts the pistol in the full-size drawing: (198, 141, 244, 217) of 640x480
    s = PISTOL_W / 640
    return frame, BBox(px + 198 * s, py + 141 * s, 244 * s, 217 * s)


@pytest.fixture(scope="module")
def person_detector():
    detector = create_detector("opencv", load_model("person-yolov4-tiny"))
    yield detector
    detector.close()


def found(backend: str, modes: list[str], person, frame) -> list:
    # Debian's pjreddie libdarknet cannot run the default ensemble's yolov4-tiny member
    model = load_model("gun-yolov3-tiny" if backend == "darknet" else None)
    gun = create_detector(backend, model, DetectorSettings(confidence=CONF))
    try:
        stage = RegionDetector(gun, 0.4, 416, lambda camera: RegionSettings(modes=modes, max_regions=7), person)
        return stage.detect_regions("cam", frame, 0.0).detections
    finally:
        gun.close()


@pytest.mark.parametrize("backend", ["opencv", pytest.param("darknet", marks=pytest.mark.darknet)])
def test_whole_frame_misses_the_small_gun_that_person_and_tile_regions_find(backend, person_detector):
    frame, pistol = drawn_scene()
    assert found(backend, ["whole"], person_detector, frame) == []
    for modes in (["whole", "person"], ["whole", "tiles"]):
        guns = found(backend, modes, person_detector, frame)
        assert len(guns) == 1, modes
        assert guns[0].label == "gun" and guns[0].box.iou(pistol) >= 0.4, (modes, guns[0], pistol)


def test_detect_cli_finds_it_with_person_regions_and_draws_them(tmp_path):
    frame, pistol = drawn_scene()
    cv2.imwrite(str(tmp_path / "cam.png"), frame)
    out = tmp_path / "out"
    common = [sys.executable, "-m", "gunwatch", "detect", str(tmp_path / "cam.png"), "--backend", "opencv",
              "--conf", str(CONF), "--json"]
    whole = subprocess.run(common + ["--regions", "whole"], capture_output=True, text=True, timeout=120)
    person = subprocess.run(common + ["--out", str(out), "--draw-regions"], capture_output=True, text=True,
                            timeout=120)  # the default, auto: a 1080p frame gets person regions
    assert whole.returncode == 0 and person.returncode == 0, whole.stderr + person.stderr
    assert json.loads(whole.stdout)["detections"] == []
    boxes = json.loads(person.stdout)["detections"]
    assert len(boxes) == 1 and BBox(*boxes[0]["box"]).iou(pistol) >= 0.4
    drawn = cv2.imread(str(out / "cam.jpg"))
    # the person crop's outline is drawn in the region colour (blue-ish), the gun box in red
    blue = (drawn[:, :, 0] > 200) & (drawn[:, :, 1] > 80) & (drawn[:, :, 1] < 160) & (drawn[:, :, 2] < 60)
    assert blue.sum() > 500


def test_region_mode_typo_on_the_command_line_is_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gunwatch", "detect", str(tmp_path), "--regions", "whole,persons"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unknown region mode 'persons'" in result.stderr


def test_pipeline_confirms_a_region_detection_with_snapshot_incident_log_and_metrics(tmp_path):
    """Everything after detection takes region detections as it takes whole-frame ones."""
    from gunwatch.app import App
    from gunwatch.config import parse_config
    from gunwatch.domain import Frame
    from gunwatch.metrics import render

    frame, pistol = drawn_scene()
    config = parse_config(f"state_dir: {tmp_path}\ndetector: {{backend: opencv, confidence: {CONF}}}\n"
                          f"sources: [{{type: folder, paths: [{tmp_path}], camera: yard}}]\n"
                          "metrics: {enabled: false}\n")
    app = App(config)
    try:
        opened = []
        for k in range(5):
            opened += [c for c in app.runner.process(Frame("yard", frame, at=1000.0 + k)) if c.kind == "opened"]
        assert len(opened) == 1
        incident = opened[0].incident
        assert incident.box.iou(pistol) >= 0.4
        snapshot = cv2.imread(incident.snapshot)
        assert snapshot.shape == frame.shape     # drawn on the full frame, not a crop
        x, y = int(incident.box.x), int(incident.box.y)
        corner = snapshot[y:y + 3, x:x + 3].reshape(-1, 3).astype(int)   # the red box's corner
        assert any(b < 60 and g < 60 and r > 200 for b, g, r in corner)
        logged = [json.loads(line) for line in (tmp_path / "incidents.jsonl").read_text().splitlines()]
        assert logged and logged[0]["camera"] == "yard"
        metrics = render(app.runner)
        assert "gunwatch_regions_per_frame 1.0\n" in metrics  # auto: the person's crop alone
        assert 'gunwatch_person_pass_seconds_count' in metrics and "gunwatch_regions_dropped_total 0" in metrics
    finally:
        app.stop()
