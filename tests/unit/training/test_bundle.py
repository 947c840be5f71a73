"""The bundle writer without torch: the loss chart without matplotlib, model.json's input."""
from __future__ import annotations

import json

import cv2

from gunwatch.model import load_model
from gunwatch.training.runs.bundle import _plot_cv2, read_loss
from gunwatch.training.runs.bundle import main as bundle_main


def test_loss_chart_with_opencv_only(tmp_path):
    csv_path = tmp_path / "loss.csv"
    csv_path.write_text("iteration,loss,avg_loss\n" + "".join(
        f"{i},{30 / i:.3f},{32 / i:.3f}\n" for i in range(1, 51)))
    it, loss, avg = read_loss(csv_path)
    assert it[-1] == 50 and loss[0] == 30
    _plot_cv2(it, loss, avg, [(25, 0.4), (50, 0.6)], tmp_path / "loss.png")
    img = cv2.imread(str(tmp_path / "loss.png"))
    assert img.shape == (500, 900, 3) and (img < 250).any()


def _finished_run(run):
    """The files a finished torch_train run leaves that a bundle is made of."""
    run.mkdir()
    (run / "model.cfg").write_text("[net]\nwidth=320\nheight=256\nchannels=3\n")
    (run / "best.weights").write_bytes(b"\0" * 20)
    (run / "loss.csv").write_text("iteration,loss,avg_loss\n1,9.0,9.0\n2,8.0,8.9\n")
    (run / "best.json").write_text('{"iteration": 2, "map": 0.61234}')
    return run


def test_bundles_letterbox_camera_frames_unless_told_to_stretch(tmp_path):
    """The plugin letterboxes what a bundle does not say otherwise; the trainers' bundles say so too."""
    run = _finished_run(tmp_path / "run")
    assert bundle_main(["--run", str(run), "--out", str(tmp_path / "lb"), "--name", "lb", "--classes", "gun"]) == 0
    card = json.loads((tmp_path / "lb" / "model.json").read_text())
    assert card["input"] == {"width": 320, "height": 256, "letterbox": True}
    assert card["metrics"] == {"valid_map50": 0.6123, "best_iteration": 2}
    assert load_model(tmp_path / "lb").meta.input.letterbox

    assert bundle_main(["--run", str(run), "--out", str(tmp_path / "st"), "--name", "st", "--classes", "gun",
                        "--stretch"]) == 0
    assert load_model(tmp_path / "st").meta.input.letterbox is False
