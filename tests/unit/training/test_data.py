"""List files, labels and augmentation."""
from __future__ import annotations

import random

import numpy as np
import pytest

from gunwatch.darknet.files import label_path, read_list
from gunwatch.training.data.loader import Augment, DetectionData, labelled, read_labels

from ._paths import pistol_images


def test_list_file_and_darknet_label_rule(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.4\n0 0.1 0.2 0.1 0.1\n")
    (tmp_path / "list.txt").write_text("images/a.jpg\n\n/abs/images/b.jpg\n")
    pairs = labelled(read_list(tmp_path / "list.txt"))
    assert pairs[0] == (tmp_path / "images" / "a.jpg", tmp_path / "labels" / "a.txt")
    assert str(pairs[1][1]) == "/abs/labels/b.txt"
    assert read_labels(pairs[0][1]).shape == (2, 5)
    assert read_labels(pairs[1][1]).shape == (0, 5)  # absent = no boxes
    assert label_path(tmp_path / "x.png") == tmp_path / "x.txt"


def test_flip_only_mirrors_boxes():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, :50] = 255  # left quarter white
    labels = np.array([[0, 0.25, 0.5, 0.1, 0.2]], np.float32)
    aug = Augment(jitter=0.0, hue=0.0, saturation=1.0, exposure=1.0)
    for seed in range(8):
        out, lab = aug(img, labels, random.Random(seed), (200, 100))
        if out[:, -1].mean() > 128:  # flipped
            assert np.allclose(lab, [[0, 0.75, 0.5, 0.1, 0.2]], atol=1e-6)
        else:
            assert np.allclose(lab, labels, atol=1e-6)


def test_jitter_keeps_boxes_inside_and_on_the_object():
    img = np.zeros((416, 416, 3), np.uint8)
    img[100:200, 150:300] = 255  # a white box = the labelled object
    labels = np.array([[0, 225 / 416, 150 / 416, 150 / 416, 100 / 416]], np.float32)
    aug = Augment(jitter=0.2, hue=0.0, saturation=1.0, exposure=1.0)
    rng = random.Random(1)
    for _ in range(20):
        out, lab = aug(img, labels, rng, (320, 320))
        assert out.shape == (320, 320, 3)
        if not len(lab):
            continue
        _, cx, cy, w, h = lab[0]
        assert 0 <= cx - w / 2 and cx + w / 2 <= 1 and 0 <= cy - h / 2 and cy + h / 2 <= 1
        x1, y1 = int((cx - w / 2) * 320) + 2, int((cy - h / 2) * 320) + 2
        x2, y2 = int((cx + w / 2) * 320) - 2, int((cy + h / 2) * 320) - 2
        assert out[y1:y2, x1:x2].mean() > 200  # the box still covers the white object


def test_batch_targets_from_the_pistols_images():
    images = pistol_images("valid", 3)
    data = DetectionData([(p, label_path(p)) for p in images], (416, 416), Augment())
    imgs, targets = data.batch([0, 1, 2], random.Random(0))
    assert imgs.shape == (3, 416, 416, 3) and imgs.dtype == np.uint8
    assert targets.shape[1] == 6 and set(targets[:, 0].astype(int)) <= {0, 1, 2}
    assert (targets[:, 2:] >= 0).all() and (targets[:, 2:] <= 1).all()


def test_unreadable_image_is_an_error(tmp_path):
    bad = tmp_path / "images" / "bad.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(OSError, match="cannot decode"):
        DetectionData([(bad, label_path(bad))], (64, 64)).image(0)


def test_mosaic_boxes_stay_on_their_objects(tmp_path):
    """Each picture is grey with one white square; every mosaic box must frame white pixels."""
    import cv2
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    pairs = []
    for k in range(4):
        img = np.full((200, 200, 3), 60, np.uint8)
        x0, y0 = 20 + 30 * k, 40 + 10 * k
        img[y0:y0 + 80, x0:x0 + 80] = 255
        path = tmp_path / "images" / f"{k}.png"
        cv2.imwrite(str(path), img)
        (tmp_path / "labels" / f"{k}.txt").write_text(
            f"0 {(x0 + 40) / 200} {(y0 + 40) / 200} {80 / 200} {80 / 200}\n")
        pairs.append((path, tmp_path / "labels" / f"{k}.txt"))
    aug = Augment(jitter=0.2, flip=True, hue=0.0, saturation=1.0, exposure=1.0)
    data = DetectionData(pairs, (320, 320), aug, mosaic=1.0)
    boxes_seen = 0
    for seed in range(20):
        out, lab = data.item(seed % 4, random.Random(seed))
        assert out.shape == (320, 320, 3)
        assert ((lab[:, 1:] >= 0) & (lab[:, 1:] <= 1)).all()
        for _, cx, cy, bw, bh in lab:
            x1, x2 = int(round((cx - bw / 2) * 320)), int(round((cx + bw / 2) * 320))
            y1, y2 = int(round((cy - bh / 2) * 320)), int(round((cy + bh / 2) * 320))
            inner = out[y1 + 2:y2 - 2, x1 + 2:x2 - 2]
            assert inner.size and inner.mean() > 200  # the box is on the white square
            assert bw < 0.9 and bh < 0.9  # a picture fills one quadrant, never the frame
            boxes_seen += 1
    assert boxes_seen >= 20


def test_a_batch_is_the_same_whatever_builds_it():
    """Thread-pool loading (--loader-threads) changes how fast a batch comes, not what is in it."""
    from concurrent.futures import ThreadPoolExecutor
    images = pistol_images("train", 12)
    data = DetectionData([(p, label_path(p)) for p in images], (320, 320), Augment(jitter=0.3),
                         mosaic=0.5)
    alone = data.batch(list(range(12)), random.Random(7))
    with ThreadPoolExecutor(4) as pool:
        pooled = data.batch(list(range(12)), random.Random(7), pool.map)
    other_seed = data.batch(list(range(12)), random.Random(8))
    assert np.array_equal(alone[0], pooled[0]) and np.array_equal(alone[1], pooled[1])
    assert not np.array_equal(alone[0], other_seed[0])  # the seed, not chance, makes them equal


def test_zoom_out_shrinks_the_picture_onto_a_gun_free_one(tmp_path):
    """Gun pictures are grey with a white square; the gun-free one is black. The pasted picture's
    box must frame white pixels at 0.15-0.6 of its usual size."""
    import cv2
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    pairs = []
    for k in range(3):
        img = np.full((200, 200, 3), 60 if k else 0, np.uint8)
        if k:
            img[50:150, 50:150] = 255
        path = tmp_path / "images" / f"{k}.png"
        cv2.imwrite(str(path), img)
        (tmp_path / "labels" / f"{k}.txt").write_text("0 0.5 0.5 0.5 0.5\n" if k else "")
        pairs.append((path, tmp_path / "labels" / f"{k}.txt"))
    aug = Augment(jitter=0.0, flip=False, hue=0.0, saturation=1.0, exposure=1.0)
    data = DetectionData(pairs, (320, 320), aug, zoom_out=1.0)
    assert data.gun_free == [0]
    sides, on_black = [], 0
    for seed in range(30):
        out, lab = data.item(1 + seed % 2, random.Random(seed))
        assert out.shape == (320, 320, 3)
        assert ((lab[:, 1:] >= 0) & (lab[:, 1:] <= 1)).all()
        # without jitter a background square spans half the canvas, a pasted one 0.075-0.3 of it
        pasted = lab[lab[:, 3] < 0.45]
        assert len(pasted) == 1
        _, cx, cy, bw, bh = pasted[0]
        x1, x2 = int(round((cx - bw / 2) * 320)), int(round((cx + bw / 2) * 320))
        y1, y2 = int(round((cy - bh / 2) * 320)), int(round((cy + bh / 2) * 320))
        assert out[y1 + 1:y2 - 1, x1 + 1:x2 - 1].mean() > 200  # the box is on the white square
        sides.append(bw / 0.5)
        on_black += bool((out < 30).all(axis=2).any())
    assert 0.15 - 0.01 <= min(sides) < 0.3 and 0.45 < max(sides) <= 0.6 + 0.01
    assert 5 <= on_black < 30  # the gun-free picture is a background about half the time


def test_hidden_cut_trims_or_drops_what_a_patch_hides():
    from gunwatch.training.data.loader import hidden_cut

    boxes = np.array([[0, 0.3, 0.5, 0.2, 0.2],    # x 0.2-0.4: the patch hides its right half
                      [0, 0.5, 0.5, 0.1, 0.1],    # inside the patch: dropped
                      [0, 0.8, 0.8, 0.2, 0.2],    # a corner hidden: kept whole
                      [0, 0.1, 0.1, 0.1, 0.1]], np.float32)  # untouched
    patch = (0.3, 0.3, 0.75, 0.75)
    out = hidden_cut(boxes, patch, 0.3)
    assert out.shape == (3, 5)
    np.testing.assert_allclose(out[0], [0, 0.25, 0.5, 0.1, 0.2], atol=1e-6)
    np.testing.assert_allclose(out[1:], boxes[2:], atol=1e-6)
    assert len(hidden_cut(boxes[:1], (0.21, 0.0, 1.0, 1.0), 0.3)) == 0  # 5 % left in view


def test_a_data_set_laid_out_per_split_is_read_through_its_splits_csv(tmp_path):
    """import-external writes images/<split>/NAME and names the bare file in splits.csv."""
    from gunwatch.training.data.datasource import open_data

    for split, name in (("train", "a.jpg"), ("heldout", "b.jpg")):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        (tmp_path / "images" / split / name).write_bytes(b"")
        (tmp_path / "labels" / split / name.replace(".jpg", ".txt")).write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "splits.csv").write_text("file,split,source_image\na.jpg,train,a\nb.jpg,heldout,b\n")
    source = open_data(tmp_path)
    assert source.pairs("heldout") == [(tmp_path / "images" / "heldout" / "b.jpg",
                                        tmp_path / "labels" / "heldout" / "b.txt")]
    assert [image.name for image, _ in source.pairs("all")] == ["b.jpg", "a.jpg"]
