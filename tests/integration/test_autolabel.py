"""`gunwatch train autolabel`: the shipped model labels pistols pictures; `prepare` reads the
result, and scoring the model against its own labels finds exactly its boxes."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gunwatch.model import load_model
from gunwatch.training.data.autolabel import autolabel
from gunwatch.training.data.dataset import check, load_dataset
from gunwatch.training.data.datasource import ALL, open_data
from gunwatch.training.metrics.report import evaluate_model
from tests.conftest import PISTOLS, need

CONF = 0.5


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Ten pistols test pictures (links) in a folder with a sub-folder and a broken file."""
    need((PISTOLS / "splits.csv").exists(), f"no pistols dataset at {PISTOLS}")
    folder = tmp_path_factory.mktemp("pictures")
    (folder / "more").mkdir()
    for k, (image, _) in enumerate(open_data(PISTOLS).pairs("test")[:10]):
        os.symlink(image, (folder / "more" if k % 2 else folder) / image.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return folder


def test_labels_are_the_models_boxes(pictures, tmp_path):
    out = tmp_path / "auto"
    stats = autolabel(None, pictures, out, conf=CONF, backend="opencv", progress=False)
    assert stats["images"] == 10 and len(stats["failed"]) == 1 and "broken.jpg" in stats["failed"][0][0]
    assert stats["labelled"] + stats["empty"] == 10 and stats["boxes"] >= stats["labelled"] > 0
    assert (out / "obj.names").read_text() == "gun\n"
    assert (out / "images" / "more").is_dir() and (out / "labels" / "more").is_dir()
    assert all(p.is_symlink() for p in (out / "images").rglob("*.jpg"))

    dataset = load_dataset(out)          # what `gunwatch train prepare` reads
    counts = check(dataset)
    assert len(dataset.samples) == 10 and dataset.names == ["gun"]
    assert sum(len(s.boxes) for s in dataset.samples) == stats["boxes"]
    assert not {k for k, n in counts.items() if n} - {"images without boxes"}

    # The same model, scored at the same confidence and NMS on its own labels: every box
    # it finds above CONF is a truth, and nothing else is.
    model = load_model(None)
    r = evaluate_model(model, open_data(out).pairs(ALL), "opencv", nms=model.meta.thresholds.nms,
                       conf_thresh=CONF, progress=False)
    assert (r["tp"], r["fp"], r["fn"]) == (stats["boxes"], 0, 0)
    assert r["avg_iou"] > 0.999


def test_command(pictures, tmp_path):
    out = tmp_path / "cli"
    result = subprocess.run([sys.executable, "-m", "gunwatch", "--log-level", "WARNING", "train", "autolabel",
                             str(pictures), str(out), "--conf", "0.9", "--backend", "opencv"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr  # the broken picture is named, the rest written
    assert result.stdout.strip() == str(out)
    assert "10 pictures" in result.stderr and "broken.jpg" in result.stderr
    assert len(list((out / "labels").rglob("*.txt"))) == 10
