"""darknet map maths (hand-computed cases), the report's lines against the seed's, the AP against
an independent implementation (pycocotools), and the trainer's per-class AP against the report."""
from __future__ import annotations

import re

import numpy as np
import pytest

from gunwatch.training.metrics.evaluate import average_precision
from gunwatch.training.metrics.evaluate import voc_ap
from gunwatch.training.metrics.report import format_darknet_report, score_detections
from tests.conftest import SHARED, need
from tests.unit.training._coco_ref import coco_ap

GUN = ["gun"]


def truth(*boxes) -> np.ndarray:
    return np.array(boxes, np.float64).reshape(-1, 5)


def test_area_under_curve_hand_computed():
    # TP, FP, TP with two truths: recall .5 .5 1, precision 1 .5 2/3
    assert voc_ap(np.array([.5, .5, 1.]), np.array([1., .5, 2 / 3])) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # precision is made monotone: a later, higher precision lifts the earlier step
    assert voc_ap(np.array([.5, .5, 1.]), np.array([.5, 1 / 3, .5])) == pytest.approx(0.5)
    assert voc_ap(np.array([]), np.array([])) == 0.0


def test_ranking_duplicates_and_misses():
    t = [truth((0, .3, .3, .2, .2), (0, .7, .7, .2, .2)), truth((0, .5, .5, .4, .4))]
    dets = [
        [(0, .9, (.3, .3, .2, .2)),      # TP
         (0, .8, (.3, .3, .2, .19)),     # same truth again: FP
         (0, .3, (.7, .7, .2, .2))],     # TP, ranked last
        [(0, .6, (.1, .1, .1, .1))],     # nothing there: FP
    ]
    r = score_detections(dets, t, GUN)
    # ranks: .9 TP, .8 FP, .6 FP, .3 TP over 3 truths -> recall 1/3 1/3 1/3 2/3
    # precision 1 .5 1/3 .5 -> AP = 1/3 * 1 + 1/3 * .5
    assert r["map50"] == pytest.approx(1 / 3 + 1 / 6)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 2, 1)
    assert r["precision"] == pytest.approx(0.5) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 * .5 * (2 / 3) / (.5 + 2 / 3))
    assert (r["detections_count"], r["unique_truth_count"], r["images"]) == (4, 3, 2)
    assert r["classes"][0]["tp"] == 2 and r["classes"][0]["fp"] == 2


def test_conf_thresh_counts_and_darknet_average_iou():
    t = [truth((0, .5, .5, .2, .2), (0, .2, .2, .1, .1))]
    dets = [[(0, .9, (.5, .5, .2, .16)),    # IoU .8 -> TP
             (0, .25, (.2, .2, .1, .1)),    # exactly conf_thresh: not counted (darknet: prob > thresh)
             (0, .5, (.8, .8, .1, .1))]]    # FP
    r = score_detections(dets, t, GUN, conf_thresh=0.25)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 1, 1)
    # darknet divides the TPs' IoU by TP + FP
    assert r["avg_iou"] == pytest.approx(0.8 / 2)
    # AP still uses every detection: .9 TP, .5 FP, .25 TP -> recall .5 .5 1, precision 1 .5 2/3
    assert r["map50"] == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_recall_by_box_size():
    # sizes (sqrt of w*h): .05, .2, .2, .6
    t = [truth((0, .1, .1, .05, .05), (0, .5, .5, .2, .2)), truth((0, .3, .3, .1, .4), (0, .5, .5, .6, .6))]
    dets = [[(0, .9, (.5, .5, .2, .2)), (0, .9, (.1, .1, .05, .05))],
            [(0, .2, (.3, .3, .1, .4)),   # below conf_thresh: not found
             (0, .8, (.5, .5, .6, .6))]]
    r = score_detections(dets, t, GUN)
    assert [(b["truths"], b["found"]) for b in r["recall_by_size"]] == [(1, 1), (2, 1), (0, 0), (1, 1)]
    assert [b["recall"] for b in r["recall_by_size"]] == [1.0, 0.5, None, 1.0]
    assert r["recall_by_size"][-1]["max"] is None
    # the only confident detections sit exactly on their truths; the .2-conf one does not count
    assert [b["area_ratio"] for b in r["recall_by_size"]] == [1.0, 1.0, None, 1.0]


def test_box_area_ratio_shows_loose_boxes():
    # a .2x.2 truth seen as a .3x.3 box (IoU .44: found at IoU .1, missed at .5) -> ratio 2.25;
    # a .1x.1 truth seen as .1x.06 on its top part (IoU .6, found) -> 0.6; one with nothing near it -> no ratio
    t = [truth((0, .5, .5, .2, .2)), truth((0, .5, .5, .1, .1)), truth((0, .2, .2, .1, .1))]
    dets = [[(0, .9, (.5, .5, .3, .3))], [(0, .9, (.5, .48, .1, .06))], [(0, .9, (.8, .8, .1, .1))]]
    r = score_detections(dets, t, GUN)
    band = r["recall_by_size"][1]   # all three are 0.10-0.25
    assert band["truths"] == 3 and band["found"] == 1
    assert band["area_ratio"] == pytest.approx(np.median([2.25, 0.6]))
    assert "median detected/true box area by box size" in format_darknet_report(r)


def test_iou_must_exceed_the_threshold_and_classes_must_match():
    # IoU equal to the threshold is a miss, for the report and the trainer's validation alike:
    # darknet's validate_detector_map matches on `current_iou > iou_thresh`, and the report
    # reproduces darknet's figures (pycocotools would count the tie as a hit).
    t = [truth((0, .5, .5, .5, .5), (1, .2, .2, .1, .1))]
    dets = [[(0, .9, (.5, .5, .5, .25)),   # IoU exactly .5 (binary fractions): darknet needs more
             (0, .8, (.2, .2, .1, .1))]]   # right place, wrong class
    r = score_detections(dets, t, ["a", "b"])
    assert r["tp"] == 0 and r["fp"] == 2 and r["map50"] == 0.0
    assert [c["truths"] for c in r["classes"]] == [1, 1]
    xyxy = [[(c, s, np.array([b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2]))
             for c, s, b in d] for d in dets]
    assert average_precision(xyxy, t, 0)["ap"] == 0.0


def test_taken_truth_makes_a_false_positive_even_if_another_truth_overlaps():
    # darknet (and VOC) match each detection to its best truth only; COCO would try the next.
    t = [truth((0, .50, .5, .4, .4), (0, .52, .5, .4, .4))]
    dets = [[(0, .9, (.51, .5, .4, .4)), (0, .8, (.51, .5, .4, .4))]]
    r = score_detections(dets, t, GUN)
    assert (r["tp"], r["fp"]) == (1, 1)


def test_map50_95_counts_the_thresholds_a_box_passes():
    t = [truth((0, .5, .5, .2, .2))]
    # IoU .72: a TP at .50 .55 .60 .65 .70, a miss at .75 ... .95
    r = score_detections([[(0, .9, (.5, .5, .2, .144))]], t, GUN)
    assert r["map50"] == 1.0
    assert r["map50_95"] == pytest.approx(0.5)


def test_empty_and_wrong_labels():
    r = score_detections([[]], [truth()], GUN)
    assert r["map50"] == 0.0 and r["precision"] == 0.0 and r["avg_iou"] == 0.0
    with pytest.raises(ValueError, match="class id 3"):
        score_detections([[]], [truth((3, .5, .5, .1, .1))], GUN)


def _line_pattern(line: str) -> str:
    """The seed's line with every number generalised, whitespace as darknet prints it."""
    escaped = re.escape(line.strip())
    return re.sub(r"\d+(\\\.\d+)?", r"\\d+(\\.\\d+)?", escaped).replace("\\ ", " ")


def test_report_has_the_seed_report_lines():
    seed = sorted((SHARED / "seed").glob("*.txt"))
    need(bool(seed), f"no seed study text in {SHARED / 'seed'}")
    text = seed[0].read_text(encoding="utf-8")
    start = text.index("class_id = 0, name = gun")
    block = text[start:text.index("\n", text.index("mean average precision (mAP@0.50)", start))]
    seed_lines = block.split("\n")
    t = [truth((0, .5, .5, .2, .2), (0, .2, .2, .1, .1))]
    ours = format_darknet_report(score_detections([[(0, .9, (.5, .5, .2, .16))]], t, GUN)).splitlines()
    assert ours[0] == "detections_count = 1, unique_truth_count = 2"
    assert ours[-3].startswith("mean average precision (mAP@0.50:0.95) = ")
    assert ours[-2] == ("recall at conf_thresh 0.25 by box size (sqrt of area share): "
                        "<0.10 - (0/0), 0.10-0.25 0.50 (1/2), 0.25-0.50 - (0/0), >=0.50 - (0/0)")
    # the detection is 0.8 of its truth's area; the other 0.10-0.25 truth has nothing near it
    assert ours[-1] == "median detected/true box area by box size (IoU > 0.1): -, 0.80, -, -"
    body = ours[1:-3]
    assert len(body) == len(seed_lines)
    for mine, theirs in zip(body, seed_lines):
        assert re.fullmatch(_line_pattern(theirs), mine), (mine, theirs)
    assert body == [
        "class_id = 0, name = gun, ap = 50.00% (TP = 1, FP = 0)",
        "",
        "for conf_thresh = 0.25, precision = 1.00, recall = 0.50, F1-score = 0.67",
        "for conf_thresh = 0.25, TP = 1, FP = 0, FN = 1, average IoU = 80.00 %",
        "",
        "IoU threshold = 50 %, used Area-Under-Curve for each unique Recall",
        "mean average precision (mAP@0.50) = 0.500000, or 50.00 %",
    ]


def random_case(seed: int, images: int = 40):
    """Truths and noisy detections (some shifted, some duplicated, some spurious)."""
    rng = np.random.default_rng(seed)
    truths, dets = [], []
    for _ in range(images):
        n = int(rng.integers(0, 4))
        t = np.column_stack([np.zeros(n), rng.uniform(.2, .8, (n, 2)), rng.uniform(.05, .3, (n, 2))])
        truths.append(t)
        d = []
        for row in t:
            if rng.random() < 0.8:
                box = row[1:5] + rng.normal(0, [.02, .02, .02, .02])
                d.append((0, float(rng.uniform(.05, 1)), tuple(np.abs(box))))
            if rng.random() < 0.2:
                d.append((0, float(rng.uniform(.01, .5)), tuple(np.abs(row[1:5] + rng.normal(0, .03, 4)))))
        for _ in range(int(rng.integers(0, 3))):
            d.append((0, float(rng.uniform(.005, .6)), (*rng.uniform(.2, .8, 2), *rng.uniform(.05, .3, 2))))
        dets.append(d)
    return dets, truths


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ap_agrees_with_pycocotools(seed):
    dets, truths = random_case(seed)
    r = score_detections(dets, truths, GUN)
    assert r["map50"] == pytest.approx(coco_ap(dets, truths, 0.5), abs=0.005)
    assert r["map50_95"] == pytest.approx(coco_ap(dets, truths), abs=0.005)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_trainers_ap_is_the_reports(seed):
    dets, truths = random_case(seed)
    ours = score_detections(dets, truths, GUN)["map50"]
    voc = [[(c, s, np.array([b[0] - b[2] / 2, b[1] - b[3] / 2, b[0] + b[2] / 2, b[1] + b[3] / 2]))
            for c, s, b in d] for d in dets]
    assert ours == pytest.approx(average_precision(voc, [t.astype(np.float32) for t in truths], 0)["ap"], abs=1e-6)
