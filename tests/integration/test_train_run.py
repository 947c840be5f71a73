"""`gunwatch train run` with the real darknet CLI (and the torch trainer): a few batches on a few
pictures end up in a bundle that gunwatch and libdarknet load; Ctrl-C and --resume continue the
batch count from darknet's backup."""
from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import pytest

from tests.conftest import need, need_torch
from tests.support.wait import wait_for

from ._train_data import (COCO_WEIGHTS, gunwatch, gunwatch_popen, need_training_inputs, small_cfg,
                          small_dataset)

DEBIAN_LIB = Path("/usr/lib/darknet/libdarknet.so")


def _iterations(run: Path) -> list[int]:
    with open(run / "loss.csv", newline="") as fh:
        return [int(r["iteration"]) for r in csv.DictReader(fh)]


@pytest.mark.slow
@pytest.mark.darknet
def test_darknet_run_trains_and_bundles(tmp_path):
    need_training_inputs()
    need(DEBIAN_LIB.exists(), f"no {DEBIAN_LIB} (apt-get install darknet)")
    data = small_dataset(tmp_path, {"train": 4, "valid": 2, "test": 2})
    cfg = small_cfg(tmp_path, iterations=4)
    run = tmp_path / "run"
    done = gunwatch("train", "run", str(run), "--data", str(data), "--cfg", str(cfg),
                    "--weights", str(COCO_WEIGHTS), "--no-random")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run / "bundle")
    assert _iterations(run) == [1, 2, 3, 4]
    assert (run / "pretrained" / "yolov3-tiny.conv.15").is_file()  # cut by `darknet partial`
    log = (run / "train.log").read_text()
    assert "Region 16 Avg IOU" in log and "Region 16" not in done.stderr  # chatter stays in the log
    assert "4/4 loss" in done.stderr

    import cv2

    assert cv2.imread(str(run / "loss.png")) is not None
    from gunwatch.model import load_model

    bundle = load_model(run / "bundle")
    assert bundle.names == ["gun"] and (bundle.meta.input.width, bundle.meta.input.height) == (96, 96)
    card = json.loads((run / "bundle" / "model.json").read_text())
    assert card["provenance"]["engine"] == "darknet" and card["provenance"]["iterations"] == 4
    assert (run / "bundle" / "model.weights").read_bytes() == (run / "backup" / "train_final.weights").read_bytes()

    from gunwatch.darknet import Network, library

    with Network(bundle.cfg, bundle.weights, library.load_library(DEBIAN_LIB)) as net:
        assert (net.width, net.height) == (96, 96)

    from gunwatch.darknet.files import read_list
    from gunwatch.training.metrics.report import evaluate_model
    from gunwatch.training.runs.compare import labelled_pairs

    scores = evaluate_model(bundle, labelled_pairs(read_list(data.parent / "test.txt")), "darknet", progress=False)
    assert scores["images"] == 2 and 0.0 <= scores["map50"] <= 1.0 and scores["failed"] == []


@pytest.mark.slow
def test_darknet_run_resumes_after_ctrl_c(tmp_path):
    """pjreddie writes train.backup at batch 100: interrupt after it, resume, count goes on."""
    need_training_inputs()
    data = small_dataset(tmp_path, {"train": 2, "valid": 1})
    cfg = small_cfg(tmp_path, iterations=130, batch=1)
    run = tmp_path / "run"
    proc = gunwatch_popen("train", "run", str(run), "--data", str(data), "--cfg", str(cfg),
                          "--weights", str(COCO_WEIGHTS), "--no-random")
    backup = run / "backup" / "train.backup"
    wait_for(backup.exists, 240, interval=0.1, give_up=lambda: proc.poll() is not None)
    assert backup.exists(), "no backup at batch 100"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "last checkpoint: iteration 100" in err and "--resume" in err
    stopped_at = _iterations(run)[-1]
    assert 100 <= stopped_at < 130
    assert not (run / "backup" / "train_final.weights").exists()

    again = gunwatch("train", "run", str(run), "--resume")
    assert again.returncode == 0, again.stderr
    # train_100.weights holds the same batch as train.backup and is never overwritten
    numbered = run / "backup" / "train_100.weights"
    assert f"resuming at iteration 100 from {numbered}" in again.stderr
    assert _iterations(run) == list(range(1, 131))  # redone batches replace the lost ones
    log = (run / "train.log").read_text()
    assert "start at iteration 100" in log and f"Loading weights from {numbered}" in log
    # both backups were scored on the valid picture; the bundle ships the better one
    assert [ln.split(",")[0] for ln in (run / "map.csv").read_text().splitlines()[1:]] == ["100", "130"]
    best = json.loads((run / "best.json").read_text())
    assert (run / "bundle" / "model.weights").read_bytes() == (run / "backup" / best["weights"]).read_bytes()


@pytest.mark.slow
def test_torch_engine_runs_two_iterations(tmp_path):
    need_torch()
    need_training_inputs()
    data = small_dataset(tmp_path, {"train": 2, "valid": 1})
    cfg = small_cfg(tmp_path, size=128, iterations=2)
    run = tmp_path / "run"
    done = gunwatch("train", "run", str(run), "--engine", "torch", "--data", str(data), "--cfg", str(cfg),
                    "--weights", str(COCO_WEIGHTS), "--subdivisions", "2", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert _iterations(run) == [1, 2] and "2/2 loss" in done.stderr
    # the 13 convs of yolov3-tiny but its two output convs (layers 15 and 22) come from COCO
    assert "loaded 11 conv layers" in (run / "train.log").read_text()
    from gunwatch.model import load_model

    bundle = load_model(run / "bundle")
    assert (bundle.meta.input.width, bundle.names) == (128, ["gun"])
    assert json.loads((bundle.source / "model.json").read_text())["provenance"]["engine"] == "torch"


@pytest.mark.slow
def test_torch_run_outside_its_data_resumes_with_its_recipe(tmp_path):
    """The long-run case: the run folder lives apart from the prepared data (a checkout laid anew
    each session); --resume needs only the folder, and keeps the recipe it was started with."""
    need_torch()
    need_training_inputs()
    data = small_dataset(tmp_path / "checkout", {"train": 3, "valid": 1})
    cfg = small_cfg(tmp_path / "checkout", size=128, iterations=1)
    run = tmp_path / "var" / "run"
    done = gunwatch("train", "run", str(run), "--engine", "torch", "--data", str(data), "--cfg", str(cfg),
                    "--weights", str(COCO_WEIGHTS), "--subdivisions", "2", "--threads", "1",
                    "--unfreeze-at", "1", "--multi-scale", "96", "--ema", "0.9", "--zoom-out", "0.5",
                    "--eval-every", "1")
    assert done.returncode == 0, done.stderr
    for name in ("train.txt", "valid.txt", "obj.data"):
        (data.parent / name).unlink()
    again = gunwatch("train", "run", str(run), "--resume", "--iterations", "2")
    assert again.returncode == 0, again.stderr
    assert _iterations(run) == [1, 2]
    assert [ln.split(",")[0] for ln in (run / "map.csv").read_text().splitlines()[1:]] == ["1", "2"]
    log = (run / "train.log").read_text()
    assert "resumed at iteration 1" in log
    last_start = log.rsplit("=== ", 1)[1].splitlines()[0]
    assert all(option in last_start for option in ("--unfreeze-at 1", "--multi-scale 96", "--ema 0.9",
                                                   "--zoom-out 0.5", "--eval-every 1", "--resume"))
    refused = gunwatch("train", "run", str(run), "--resume", "--ema", "0.99")
    assert refused.returncode == 2 and "drop --ema" in refused.stderr


def test_resume_without_a_run_names_the_fix(tmp_path):
    done = gunwatch("train", "run", str(tmp_path / "nothing"), "--resume")
    assert done.returncode == 2 and "no run to resume" in done.stderr
