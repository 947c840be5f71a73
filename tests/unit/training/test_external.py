"""`train import-external`: a small bare repository made here stands in for a mirrored export."""
from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.training.data.external import (
    ExternalError, Source, classify_license, import_source, is_heldout, parse_label, source_stem,
)

README = "# guns > v1\nhttps://universe.roboflow.com/x/guns\n\nProvided by a Roboflow user\nLicense: {}\n"
DATA_YAML = "nc: 4\nnames: ['gun', 'person', 'phone', 'weapon']\n"


def _picture(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cv2.imwrite(str(path), img)


def _repo(tmp_path: Path, files: dict[str, str | None], license: str | None = "CC BY 4.0",
          lfs: tuple[str, ...] = ()) -> Path:
    """A bare repository holding ``export/`` with README.dataset.txt, data.yaml and, per picture
    name, a label text (None: a picture without a label file)."""
    work = tmp_path / "work"
    export = work / "export"
    export.mkdir(parents=True)
    if license is not None:
        (export / "README.dataset.txt").write_text(README.format(license))
    (export / "data.yaml").write_text(DATA_YAML)
    for i, (name, label) in enumerate(sorted(files.items())):
        split = "valid" if name.startswith("v_") else "train"
        image = export / split / "images" / name
        if name in lfs:
            image.parent.mkdir(parents=True, exist_ok=True)
            image.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
        else:
            _picture(image, i)
        if label is not None:
            lab = export / split / "labels" / Path(name).with_suffix(".txt")
            lab.parent.mkdir(parents=True, exist_ok=True)
            lab.write_text(label)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "export"], check=True)
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare


GUNS = Source(name="guns", repo="someone/guns", root="export", gun_free=False, gun_classes=("gun",))
FREE = Source(name="free", repo="someone/free", root="export", gun_free=True)


def _labels(out: Path) -> dict[str, str]:
    return {p.stem: p.read_text() for p in (out / "labels").rglob("*.txt")}


def test_gun_boxes_become_class_0_and_other_classes_go(tmp_path):
    bare = _repo(tmp_path, {
        "a_jpg.rf.1111.jpg": "1 0.5 0.5 0.4 0.8\n0 0.3 0.4 0.1 0.05\n",   # person + gun
        "b.jpg": "2 0.5 0.5 0.2 0.2\n",                                   # phone only: no gun box
        "c.jpg": "0 0.5 0.5 0.2 0.2\n3 0.2 0.2 0.1 0.1\n",               # gun + 'weapon': ambiguous
        "d.jpg": "0 0.1 0.1 0.3 0.1 0.3 0.3 0.1 0.3\n",                   # a polygon line
        "e.jpg": None,                                                    # no label file
    })
    result = import_source(GUNS, bare, tmp_path / "out")
    labels = _labels(tmp_path / "out")
    assert labels["a_jpg.rf.1111"] == "0 0.300000 0.400000 0.100000 0.050000\n"
    assert labels["d"] == "0 0.200000 0.200000 0.200000 0.200000\n"  # the polygon's envelope
    assert set(labels) == {"a_jpg.rf.1111", "d"}
    assert result.counts["dropped: no gun box"] == 1
    assert result.counts["dropped: shows a gun or gun-like class"] == 1
    assert result.counts["dropped: no label file"] == 1
    provenance = (tmp_path / "out" / "PROVENANCE.md").read_text()
    assert "someone/guns" in provenance and result.commit in provenance
    assert "CC BY 4.0" in provenance and "export/README.dataset.txt" in provenance


def test_gun_free_pictures_get_empty_labels_and_pictures_with_guns_are_dropped(tmp_path):
    bare = _repo(tmp_path, {
        "shop1.jpg": "1 0.5 0.5 0.2 0.6\n",        # a person: gun-free
        "desk.jpg": "2 0.5 0.5 0.2 0.2\n",         # a phone: gun-free look-alike
        "empty.jpg": "",                           # nothing labelled
        "guy.jpg": "0 0.5 0.5 0.1 0.1\n",          # a gun
        "w.jpg": "3 0.5 0.5 0.1 0.1\n",            # 'weapon'
        "pistol_man.jpg": "1 0.5 0.5 0.2 0.6\n",   # person only, but the name says pistol
        "lfs.jpg": "1 0.5 0.5 0.2 0.6\n",          # an LFS pointer, not a picture
    }, lfs=("lfs.jpg",))
    out = tmp_path / "out"
    result = import_source(FREE, bare, out)
    labels = _labels(out)
    assert set(labels) == {"shop1", "desk", "empty"}
    assert all(text == "" for text in labels.values())
    assert result.counts["dropped: shows a gun or gun-like class"] == 2
    assert result.counts["dropped: file name names a weapon"] == 1
    assert result.counts["dropped: git-lfs pointer, not the picture"] == 1
    listed = [Path(p) for f in ("train.txt", "heldout.txt") for p in (out / f).read_text().split()]
    assert sorted(p.stem for p in listed) == sorted(labels)
    assert all(p.is_file() and p.read_bytes()[:3] == b"\xff\xd8\xff" for p in listed)


def test_gun_free_output_is_a_negatives_folder_for_prepare(tmp_path):
    from gunwatch.training.data.negatives import folder_pictures

    bare = _repo(tmp_path, {f"p{i}.jpg": "1 0.5 0.5 0.2 0.6\n" for i in range(30)})
    out = tmp_path / "out"
    import_source(FREE, bare, out)
    train = folder_pictures(out / "images" / "train")
    assert [str(p.resolve()) for p in train] == sorted((out / "train.txt").read_text().split())
    assert not any("heldout" in str(p) for p in train)


def test_held_back_split_is_stable_and_keeps_augmented_copies_together(tmp_path):
    names = {f"frame{i}_jpg.rf.{c * 7:04x}.jpg": "1 0.5 0.5 0.2 0.6\n" for i in range(40) for c in (1, 2)}
    bare = _repo(tmp_path, names)
    first = import_source(FREE, bare, tmp_path / "a")
    second = import_source(FREE, bare, tmp_path / "b")
    assert (tmp_path / "a" / "splits.csv").read_text() == (tmp_path / "b" / "splits.csv").read_text()
    assert first.kept == second.kept and 0 < first.kept["heldout"] < first.kept["train"]
    with open(tmp_path / "a" / "splits.csv") as fh:
        rows = list(csv.DictReader(fh))
    by_source: dict[str, set] = {}
    for row in rows:
        by_source.setdefault(row["source_image"], set()).add(row["split"])
    assert len(by_source) == 40 and all(len(s) == 1 for s in by_source.values())
    # the hash of the name decides, so held-back pictures stay held back in every later import
    assert [i for i in range(40) if is_heldout(f"frame{i}")] == [0, 7, 16, 18, 21, 28, 32, 33, 38]
    assert {r["source_image"] for r in rows if r["split"] == "heldout"} == \
        {f"frame{i}" for i in (0, 7, 16, 18, 21, 28, 32, 33, 38)}
    assert source_stem("frame3_jpg.rf.0e.jpg") == "frame3" and source_stem("armas (1).jpg") == "armas (1)"
    share = sum(is_heldout(f"k{i}") for i in range(4000)) / 4000
    assert 0.13 < share < 0.17


def test_a_source_without_a_license_is_refused(tmp_path):
    bare = _repo(tmp_path, {"a.jpg": "1 0.5 0.5 0.2 0.6\n"}, license=None)
    with pytest.raises(ExternalError, match="no license stated"):
        import_source(FREE, bare, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("stated", ["CC BY-NC 4.0", "Private", "CC BY-NC-SA 4.0", "CC BY-ND 4.0", "unknown"])
def test_licenses_that_do_not_allow_a_shipped_model_are_refused(tmp_path, stated):
    bare = _repo(tmp_path, {"a.jpg": "1 0.5 0.5 0.2 0.6\n"}, license=stated)
    with pytest.raises(ExternalError, match="license"):
        import_source(FREE, bare, tmp_path / "out")


def test_license_names():
    assert classify_license("CC BY 4.0") == "CC BY 4.0"
    assert classify_license("CC BY-SA 4.0") == "CC BY-SA 4.0"
    assert classify_license("Public Domain") == "CC0 / Public Domain"
    assert classify_license("MIT License Copyright (c) 2024 x Permission is hereby granted") == "MIT"
    with pytest.raises(ExternalError, match="non-commercial"):
        classify_license("Attribution-NonCommercial 4.0 International")


def test_out_must_be_new_and_label_lines_must_be_yolo(tmp_path):
    bare = _repo(tmp_path, {"a.jpg": "1 0.5 0.5 0.2 0.6\n"})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(ExternalError, match="not empty"):
        import_source(FREE, bare, tmp_path / "out")
    with pytest.raises(ValueError):
        parse_label("0 0.5 0.5\n")


def test_cli_imports_a_new_source(tmp_path, capsys):
    from gunwatch.cli import main

    bare = _repo(tmp_path, {"a.jpg": "0 0.5 0.5 0.1 0.1\n", "b.jpg": "1 0.5 0.5 0.2 0.6\n"})
    out = tmp_path / "out"
    code = main(["train", "import-external", "mine", str(bare), str(out), "--root", "export",
                 "--gun-classes", "gun", "--repo", "someone/guns"])
    assert code == 0
    assert (out / "PROVENANCE.md").is_file() and "someone/guns" in (out / "PROVENANCE.md").read_text()
    assert "license CC BY 4.0 (export/README.dataset.txt)" in capsys.readouterr().err
    assert set(_labels(out)) == {"a"}
    assert main(["train", "import-external", "other", str(bare), str(tmp_path / "o2")]) == 2
    assert "not a known source" in capsys.readouterr().err


def test_a_reviewed_source_takes_only_handgun_pictures_with_all_their_copies(tmp_path):
    review = tmp_path / "review.csv"
    review.write_text("source_image,verdict,note\nh1,handgun,\nk1,other,a knife\nu1,unsure,too blurred\n")
    reviewed = Source(name="cctv", repo="someone/cctv", root="export", gun_free=False,
                      gun_classes=("weapon",), review_file=str(review))
    bare = _repo(tmp_path, {
        "h1_jpg.rf.aaaa.jpg": "1 0.5 0.5 0.4 0.8\n3 0.3 0.4 0.1 0.05\n",   # person + weapon
        "h1_jpg.rf.bbbb.jpg": "3 0.7 0.4 0.1 0.05\n1 0.5 0.5 0.4 0.8\n",   # its augmented copy
        "k1_jpg.rf.cccc.jpg": "3 0.5 0.5 0.2 0.2\n",
        "u1.jpg": "3 0.5 0.5 0.2 0.2\n",
        "n1.jpg": "3 0.5 0.5 0.2 0.2\n",                                     # not reviewed
        "p1.jpg": "1 0.5 0.5 0.2 0.6\n",                                     # person only
    })
    result = import_source(reviewed, bare, tmp_path / "out")
    assert _labels(tmp_path / "out") == {"h1_jpg.rf.aaaa": "0 0.300000 0.400000 0.100000 0.050000\n",
                                         "h1_jpg.rf.bbbb": "0 0.700000 0.400000 0.100000 0.050000\n"}
    assert result.counts["dropped: reviewed other"] == 1
    assert result.counts["dropped: reviewed unsure"] == 1
    assert result.counts["dropped: not reviewed"] == 1
    assert result.counts["dropped: no gun box"] == 1
    assert "reviewed `handgun`" in (tmp_path / "out" / "PROVENANCE.md").read_text()
    review.write_text("source_image,verdict,note\nh1,pistol,\n")
    with pytest.raises(ExternalError, match="not one of handgun, other, unsure"):
        import_source(reviewed, bare, tmp_path / "out2")


def test_the_committed_review_file_is_readable():
    from gunwatch.training.data.external import REVIEWS, SOURCES, read_reviews

    verdicts = read_reviews(REVIEWS / SOURCES["cctv-guns"].review_file)
    assert set(verdicts.values()) <= {"handgun", "other", "unsure"}


def test_review_sheets_show_one_copy_per_source_picture_and_every_copy_of_a_reused_name(
        tmp_path, monkeypatch):
    from gunwatch.training.data import review_sheets
    from gunwatch.training.data.external import SOURCES

    paths = ["e/train/images/a_jpg.rf.1.jpg", "e/train/images/a_jpg.rf.2.jpg",  # one picture, x2
             "e/valid/images/b_jpg.rf.3.jpg", "e/train/images/b_jpg.rf.4.jpg",  # a name in two splits
             "e/valid/images/c_jpg.rf.5.jpg", "e/valid/images/d.jpg"]
    shown = review_sheets.shown_pictures(paths, {p: [()] for p in paths if "/d." not in p}, 2)
    assert shown == [("a", ["e/train/images/a_jpg.rf.1.jpg"]),
                     ("b", ["e/valid/images/b_jpg.rf.3.jpg", "e/train/images/b_jpg.rf.4.jpg"]),
                     ("c", ["e/valid/images/c_jpg.rf.5.jpg"])]
    assert review_sheets.pages([[1, 2], [3, 4, 5], [6]], 4) == [[1, 2], [3, 4, 5, 6]]

    monkeypatch.setitem(SOURCES, "t", Source(name="t", repo="someone/t", root="export", gun_free=False,
                                             gun_classes=("weapon",), review_file="unused.csv"))
    bare = _repo(tmp_path, {"a_jpg.rf.1.jpg": "3 0.5 0.5 0.1 0.1\n3 0.1 0.9 0.2 0.2\n1 0.5 0.5 0.4 0.8\n",
                            "a_jpg.rf.2.jpg": "3 0.4 0.5 0.1 0.1\n", "p.jpg": "1 0.5 0.5 0.4 0.8\n"})
    counts = review_sheets.make_sheets(bare, tmp_path / "review", "t")
    assert counts["source pictures"] == 1 and counts["tiles"] == 2 and counts["sheets"] == 1
    with open(tmp_path / "review" / "index.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["tile_id"], r["source_image"], r["file"], r["box"]) for r in rows] == \
        [("0001-1", "a", "a_jpg.rf.1.jpg", "1"), ("0001-2", "a", "a_jpg.rf.1.jpg", "2")]
    assert (rows[0]["x0"], rows[0]["y1"]) == ("14", "18")  # 32 px pictures
    assert cv2.imread(str(tmp_path / "review" / "sheets" / "sheet-001.png")).shape[1] == 8 * 164


def test_review_sheets_second_pass_shows_only_the_asked_verdicts_larger_keeping_numbers(
        tmp_path, monkeypatch):
    from gunwatch.training.data import review_sheets
    from gunwatch.training.data.external import SOURCES

    (tmp_path / "t.csv").write_text("source_image,verdict,note\na,handgun,\nb,unsure,\n")
    monkeypatch.setattr(review_sheets, "REVIEWS", tmp_path)
    monkeypatch.setitem(SOURCES, "t", Source(name="t", repo="someone/t", root="export", gun_free=False,
                                             gun_classes=("weapon",), review_file="t.csv"))
    bare = _repo(tmp_path, {"a.jpg": "3 0.5 0.5 0.1 0.1\n", "b.jpg": "3 0.4 0.5 0.1 0.1\n"})
    counts = review_sheets.make_sheets(bare, tmp_path / "review", "t", verdicts=("unsure",), size=320)
    assert counts["source pictures"] == 1 and counts["tiles"] == 1
    with open(tmp_path / "review" / "index.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["tile_id"], r["source_image"]) for r in rows] == [("0002-1", "b")]  # b is still 0002
    assert cv2.imread(str(tmp_path / "review" / "sheets" / "sheet-001.png")).shape[1] == 4 * 324
