"""`gunwatch train prepare` on small data sets in each format, with every kind of problem."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.training.data.dataset import check, load_dataset
from gunwatch.training.data.prepare import PrepareError, prepare


def picture(path: Path, w=100, h=80) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((h, w, 3), 120, np.uint8))


@pytest.fixture
def yolo_set(tmp_path):
    root = tmp_path / "yolo"
    for i in range(10):
        picture(root / "images" / f"a{i}.jpg")
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"a{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (root / "obj.names").write_text("gun\n")
    return root


def test_clean_yolo_set_prepared(yolo_set, tmp_path):
    out = tmp_path / "out"
    result = prepare(yolo_set, out)
    assert result.splits == {"train": 8, "valid": 2}
    data = dict(line.split("=", 1) for line in (out / "obj.data").read_text().splitlines())
    assert data["classes"] == "1" and Path(data["train"]).exists()
    first = Path((out / "train.txt").read_text().splitlines()[0])
    assert first.is_symlink() and (out / "labels" / first.with_suffix(".txt").name).read_text().startswith("0 0.5")
    assert json.loads((out / "report.json").read_text())["images"] == 10


def test_train_only_split_writes_no_valid_line(yolo_set, tmp_path):
    (yolo_set / "splits.csv").write_text("file,split\n" + "".join(f"a{i}.jpg,train\n" for i in range(10)))
    out = tmp_path / "out"
    result = prepare(yolo_set, out, split="file")
    assert result.splits == {"train": 10}
    data = dict(line.split("=", 1) for line in (out / "obj.data").read_text().splitlines())
    assert "valid" not in data and Path(data["train"]).exists()


def test_problems_found_refused_then_fixed_or_dropped(yolo_set, tmp_path):
    (yolo_set / "labels" / "a0.txt").write_text("0 0.95 0.5 0.2 0.2\n")      # sticks out on the right
    (yolo_set / "labels" / "a1.txt").write_text("0 0.5 0.5 0.001 0.2\n")     # 0.1 px wide
    (yolo_set / "labels" / "a2.txt").write_text("3 0.5 0.5 0.2 0.2\n")       # class beyond names
    (yolo_set / "labels" / "a3.txt").write_text("0 0.5 oops\n")              # malformed
    (yolo_set / "images" / "a4.jpg").write_bytes(b"not a jpeg")              # unreadable
    (yolo_set / "labels" / "a5.txt").unlink()                                # negative image
    counts = check(load_dataset(yolo_set))
    assert counts["box out of range"] == 1 and counts["degenerate box"] == 1
    assert counts["class id beyond names"] == 1 and counts["malformed line"] == 1
    assert counts["image unreadable"] == 1 and counts["no label file"] == 1
    with pytest.raises(PrepareError, match="5 of 10 images have problems.*--fix.*--drop"):
        prepare(yolo_set, tmp_path / "refused")
    fixed = prepare(yolo_set, tmp_path / "fixed", fix=True, drop=True)
    assert fixed.dropped == 1  # only the unreadable image could not be repaired
    assert (tmp_path / "fixed" / "labels" / "a0.txt").read_text() == "0 0.925000 0.500000 0.150000 0.200000\n"
    assert (tmp_path / "fixed" / "labels" / "a1.txt").read_text() == ""
    dropped = prepare(yolo_set, tmp_path / "dropped", drop=True)
    assert dropped.dropped == 5 and sum(dropped.splits.values()) == 5


def test_voc_and_coco_read_into_the_same_boxes(tmp_path):
    voc = tmp_path / "voc"
    picture(voc / "JPEGImages" / "x.jpg", 200, 100)
    (voc / "Annotations").mkdir()
    (voc / "Annotations" / "x.xml").write_text(
        "<annotation><filename>x.jpg</filename><size><width>200</width><height>100</height></size>"
        "<object><name>gun</name><bndbox><xmin>50</xmin><ymin>20</ymin><xmax>150</xmax><ymax>60</ymax>"
        "</bndbox></object></annotation>")
    coco = tmp_path / "coco"
    picture(coco / "images" / "x.jpg", 200, 100)
    (coco / "ann.json").write_text(json.dumps({
        "images": [{"id": 7, "file_name": "x.jpg", "width": 200, "height": 100}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [50, 20, 100, 40]}],
        "categories": [{"id": 3, "name": "gun"}]}))
    a, b = load_dataset(voc), load_dataset(coco / "ann.json")
    assert a.format == "voc" and b.format == "coco" and a.names == b.names == ["gun"]
    assert a.samples[0].boxes == b.samples[0].boxes == [(0, 0.5, 0.4, 0.5, 0.4)]


def test_unknown_layout(tmp_path):
    from gunwatch.training.data.dataset import DatasetError

    with pytest.raises(DatasetError, match="not a data set gunwatch knows"):
        load_dataset(tmp_path)
