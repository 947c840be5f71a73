"""Gun-free training pictures: painting the objects out, and `prepare --gun-free-share/--negatives`."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.training.data import negatives
from gunwatch.training.errors import TrainingError
from gunwatch.training.data.negatives import (
    can_paint_out, choose, paint_out, painted_count, painted_share, read_still_armed,
)
from gunwatch.training.data.prepare import PrepareError, prepare


def _scene(path: Path, square: tuple[int, int] | None) -> None:
    """A smooth gradient (what inpainting can rebuild) with a white square where the gun is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ramp = np.tile(np.linspace(40, 120, 120, dtype=np.float32), (100, 1))
    img = np.dstack([ramp, ramp, ramp]).astype(np.uint8)
    if square:
        x, y = square
        img[y:y + 30, x:x + 30] = 255
    cv2.imwrite(str(path), img)


def test_paint_out_removes_the_object_and_keeps_the_rest(tmp_path):
    _scene(tmp_path / "a.png", (50, 30))
    img = cv2.imread(str(tmp_path / "a.png"))
    painted = paint_out(img, [(0, 65 / 120, 45 / 100, 30 / 120, 30 / 100)])
    assert img[30:60, 50:80].mean() == 255
    assert painted[30:60, 50:80].mean() < 130  # the square is gone, filled from the gradient
    assert np.array_equal(painted[:, :40], img[:, :40])  # nothing far from the box changes


def test_a_gun_that_fills_the_picture_cannot_be_painted_out(tmp_path):
    """cv2.inpaint with nothing around the mask gives the picture back unchanged, gun and all."""
    _scene(tmp_path / "a.png", (50, 30))
    img = cv2.imread(str(tmp_path / "a.png"))
    close_up = [(0, 0.5, 0.5, 0.95, 0.95)]  # grown by the margin it covers the whole picture
    assert painted_share(close_up) == 1.0 and not can_paint_out(close_up)
    assert np.array_equal(paint_out(img, close_up), img)
    tall = [(0, 0.3, 0.5, 0.4, 0.9)]  # grown: 0.44 x 0.99 of the picture
    assert abs(painted_share(tall) - 0.44 * 0.99) < 0.02 and can_paint_out(tall)
    two = [(0, 0.25, 0.5, 0.4, 0.9), (0, 0.3, 0.5, 0.4, 0.9)]
    assert abs(painted_share(two) - 0.49 * 0.99) < 0.02  # the overlap counts once


def test_prepare_never_paints_a_picture_whose_gun_fills_it(gun_set, tmp_path):
    for i in range(4):  # four of the eight train pictures become close-ups
        (gun_set / "labels" / f"g{i}.txt").write_text("0 0.5 0.5 0.98 0.97\n")
    out = tmp_path / "out"
    result = prepare(gun_set, out, class_names=["gun"], split="file", gun_free_share=0.3)
    painted = sorted(p.name for p in (out / "gun-free").iterdir())
    assert result.gun_free["painted_out"] == 4 and painted == [f"g{i}.gunfree.jpg" for i in range(4, 8)]
    with pytest.raises(PrepareError, match="only 4 train pictures have boxes that can be painted out"):
        prepare(gun_set, tmp_path / "more", class_names=["gun"], split="file", gun_free_share=0.4)


def test_painted_count_reaches_the_share():
    n = painted_count(9170, 0, 0.25)
    assert n == 3057 and n / (9170 + n) >= 0.25 > (n - 1) / (9170 + n - 1)
    assert painted_count(100, 40, 0.25) == 0  # already more gun-free pictures than asked
    assert painted_count(100, 10, 0.25) == 20  # (10 + 20) / 120
    with pytest.raises(ValueError, match="below 1"):
        painted_count(100, 0, 1.0)


@pytest.fixture
def gun_set(tmp_path):
    root = tmp_path / "guns"
    for i in range(12):
        _scene(root / "images" / f"g{i}.png", (10 + 5 * i, 20))
        (root / "labels" / f"g{i}.txt").parent.mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"g{i}.txt").write_text(f"0 {(25 + 5 * i) / 120} 0.35 0.25 0.3\n")
    (root / "splits.csv").write_text("file,split\n" + "".join(
        f"g{i}.png,{'train' if i < 8 else 'valid'}\n" for i in range(12)))
    return root


def test_prepare_adds_painted_and_folder_pictures_to_train_only(gun_set, tmp_path):
    empty = tmp_path / "empty-rooms"
    _scene(empty / "room1.jpg", None)
    _scene(empty / "sub" / "room2.png", None)
    out = tmp_path / "out"
    result = prepare(gun_set, out, class_names=["gun"], split="file", gun_free_share=0.4, negatives=empty)
    train = (out / "train.txt").read_text().splitlines()
    # 8 train pictures + 2 from the folder; 0.4 of the list: (2 + n) / (10 + n) >= 0.4 -> n = 4
    assert result.gun_free == {"train_pictures": 14, "gun_free": 6, "already_gun_free": 0,
                               "from_folder": 2, "painted_out": 4, "not_painted_still_armed": 0,
                               "share": 0.4286}
    free = [p for p in train if (out / "labels" / Path(p).with_suffix(".txt").name).read_text() == ""]
    assert len(train) == 14 and len(free) == 6
    assert sum(".gunfree." in p for p in free) == 4 and len(list((out / "gun-free").iterdir())) == 4
    valid = (out / "valid.txt").read_text().splitlines()
    assert len(valid) == 4 and not any(".gunfree." in p or "room" in p for p in valid)
    assert json.loads((out / "report.json").read_text())["gun_free"]["painted_out"] == 4
    # the painted pictures are train pictures without their square, and the same for the same seed
    again = prepare(gun_set, tmp_path / "again", class_names=["gun"], split="file", gun_free_share=0.4,
                    negatives=empty)
    assert again.gun_free == result.gun_free
    assert sorted(p.name for p in (out / "gun-free").iterdir()) == \
        sorted(p.name for p in (tmp_path / "again" / "gun-free").iterdir())
    painted = cv2.imread(str(next((out / "gun-free").iterdir())))
    assert painted.max() < 200


def test_negatives_must_be_a_folder_of_pictures(gun_set, tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(PrepareError, match="--negatives .*no pictures"):
        prepare(gun_set, tmp_path / "out", class_names=["gun"], split="file", negatives=tmp_path / "nothing")
    with pytest.raises(PrepareError, match="only 8 train pictures"):
        prepare(gun_set, tmp_path / "out2", class_names=["gun"], split="file", gun_free_share=0.9)


def _import_output(root: Path) -> Path:
    """What `gunwatch train import-external` writes for a gun source: train and held-back parts."""
    for part, n in (("train", 3), ("heldout", 1)):
        for i in range(n):
            _scene(root / "images" / part / f"cctv-{part}{i}.jpg", (40, 40))
            (root / "labels" / part).mkdir(parents=True, exist_ok=True)
            (root / "labels" / part / f"cctv-{part}{i}.txt").write_text("0 0.45 0.55 0.25 0.3\n")
    return root


def test_extra_train_adds_imported_gun_pictures_with_boxes_and_never_their_heldout(gun_set, tmp_path):
    extra = _import_output(tmp_path / "cctv-guns")
    out = tmp_path / "out"
    result = prepare(gun_set, out, class_names=["gun"], split="file", extra_train=[extra], extra_repeat=2,
                     gun_free_share=0.25)
    train = (out / "train.txt").read_text().splitlines()
    added = [p for p in train if "cctv-" in p]
    assert result.extra == {str(extra): {"pictures": 3, "gun_boxes": 3, "train_lines": 6}}
    assert len(added) == 6 and len(set(added)) == 3 and not any("heldout" in p for p in added)
    assert all((out / "labels" / Path(p).with_suffix(".txt").name).read_text().startswith("0 0.45")
               for p in added)
    # the share counts the imported lines: 8 + 6 = 14 -> n / (14 + n) >= 0.25 -> n = 5
    assert result.gun_free["painted_out"] == 5
    assert not any("cctv-" in p for p in (out / "valid.txt").read_text().splitlines())


def test_extra_train_refuses_what_is_not_a_gun_import(gun_set, tmp_path):
    extra = _import_output(tmp_path / "cctv-guns")
    with pytest.raises(PrepareError, match="class 0 is 'pistol'.*--class-names gun"):
        prepare(gun_set, tmp_path / "a", class_names=["pistol"], split="file", extra_train=[extra])
    with pytest.raises(PrepareError, match="--extra-repeat 0: must be 1 or more"):
        prepare(gun_set, tmp_path / "r", class_names=["gun"], split="file", extra_train=[extra], extra_repeat=0)
    with pytest.raises(PrepareError, match="no images/train/"):
        prepare(gun_set, tmp_path / "b", class_names=["gun"], split="file", extra_train=[gun_set])
    (extra / "labels" / "train" / "cctv-train0.txt").write_text("2 0.5 0.5 0.1 0.1\n")
    with pytest.raises(PrepareError, match="cctv-train0.jpg: class 2"):
        prepare(gun_set, tmp_path / "c", class_names=["gun"], split="file", extra_train=[extra])


def test_choose_lets_only_the_avoided_pictures_give_way():
    plain = choose(list(range(100)), 10, seed=3)
    avoided = plain[:2]
    chosen = choose(list(range(100)), 10, seed=3, avoid=avoided)
    assert len(chosen) == 10 and not set(avoided) & set(chosen)
    assert set(plain) - set(chosen) == set(avoided)  # the other eight stay
    assert chosen == choose(list(range(100)), 10, seed=3, avoid=avoided)
    with pytest.raises(TrainingError, match="only 8 train pictures"):
        choose(list(range(10)), 9, seed=3, avoid=[0, 1])


def test_review_file_of_painted_pictures(tmp_path):
    review = tmp_path / "review.csv"
    review.write_text("# looked at by eye\nsource_image,verdict,note\narmas--1-,still-armed,rifle\n"
                      "armas--2-,gun-free,\n")
    assert read_still_armed(review) == {"armas--1-"}
    review.write_text("source_image,verdict,note\narmas--1-,armed,\n")
    with pytest.raises(TrainingError, match="row 1: verdict 'armed' is not still-armed or gun-free"):
        read_still_armed(review)
    with pytest.raises(TrainingError, match="review file of painted-out pictures missing"):
        read_still_armed(tmp_path / "none.csv")
    assert read_still_armed()  # the committed review reads


def test_prepare_paints_no_picture_marked_still_armed(gun_set, tmp_path, monkeypatch):
    review = tmp_path / "review.csv"
    monkeypatch.setattr(negatives, "PAINTED_OUT_REVIEW", review)
    review.write_text("source_image,verdict,note\n")
    before = prepare(gun_set, tmp_path / "before", class_names=["gun"], split="file", gun_free_share=0.25)
    painted = sorted(p.name for p in (tmp_path / "before" / "gun-free").iterdir())
    marked = painted[0].split(".gunfree")[0]
    review.write_text(f"source_image,verdict,note\n{marked},still-armed,a second gun\n")
    after = prepare(gun_set, tmp_path / "after", class_names=["gun"], split="file", gun_free_share=0.25)
    repainted = sorted(p.name for p in (tmp_path / "after" / "gun-free").iterdir())
    assert after.gun_free["not_painted_still_armed"] == 1 and len(repainted) == len(painted)
    assert f"{marked}.gunfree.jpg" not in repainted and set(painted) - set(repainted) == {painted[0]}


def test_painted_out_sheets_show_each_boxed_picture_whole_surest_first(tmp_path):
    from gunwatch.training.data.painted_out_sheets import TILE, make_sheets

    found = []
    for i, score in enumerate((0.4, 0.9, 0.6)):
        path = tmp_path / f"p{i}.gunfree.jpg"
        cv2.imwrite(str(path), np.full((60, 120, 3), 200, np.uint8))
        found.append((score, path, (10.0, 10.0, 20.0, 20.0)))
    found.sort(key=lambda f: -f[0])  # as boxed_pictures returns them
    assert make_sheets(found, tmp_path / "out", "test") == 1
    index = (tmp_path / "out" / "index.csv").read_text().splitlines()
    assert index == ["tile,sheet,file,score", "001,sheet-001,p1.gunfree.jpg,0.9",
                     "002,sheet-001,p2.gunfree.jpg,0.6", "003,sheet-001,p0.gunfree.jpg,0.4"]
    page = cv2.imread(str(tmp_path / "out" / "sheets" / "sheet-001.png"))
    assert page.shape[1] >= 3 * TILE
    # each tile outlines its box in red on the grey picture
    first_tile = page[:, :TILE].astype(int)
    red = (first_tile[..., 2] > 200) & (first_tile[..., 1] < 60) & (first_tile[..., 0] < 60)
    assert red.sum() > 4 * 20  # the outline of a 20 px box shown at 320/120 scale, 2 px wide
