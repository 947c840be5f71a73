"""YOLOv3 loss: darknet's anchor assignment, ignore threshold, and a tiny overfit."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conftest import need_torch

torch = need_torch()

from gunwatch.training.arch.darknet_cfg import make_n_class_cfg, read_cfg  # noqa: E402
from gunwatch.training.data.loader import DetectionData  # noqa: E402
from gunwatch.training.pytorch.torch_loss import iou_loss_score, yolo_loss  # noqa: E402
from gunwatch.training.pytorch.torch_yolo import DarknetModel  # noqa: E402

from ._paths import need_coco, pistol_images  # noqa: E402


def _model():
    cfg, _ = need_coco()
    return DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))


def _objectness_grad(model, target, iou_thresh=1.0):
    outs = [torch.zeros(1, 18, 13, 13, requires_grad=True), torch.zeros(1, 18, 26, 26, requires_grad=True)]
    loss, _ = yolo_loss(outs, model.heads, target, 416, 416, iou_thresh=iou_thresh)
    loss.backward()
    return [o.grad.view(3, 6, o.shape[2], o.shape[3])[:, 4] for o in outs]


def test_truth_goes_to_the_best_anchor_of_all_heads():
    model = _model()
    # 344x319 px box -> anchor 5 (in the first head's mask 3,4,5), centre in 13x13 cell (6, 3)
    t = torch.tensor([[0, 0, (6 + 0.5) / 13, (3 + 0.5) / 13, 344 / 416, 319 / 416]])
    g13, g26 = _objectness_grad(model, t)
    assert g13[2, 3, 6] < 0  # pushed up at mask index 2 (anchor 5), row 3, column 6
    neg = g13.clone()
    neg[2, 3, 6] = 0
    # every other position is pushed down (zero logits = 0.5 objectness, IoU far below .7)
    # except those whose decoded box overlaps the truth by more than ignore_thresh
    assert (neg >= 0).all() and (g26 >= 0).all()
    # 10x14 px box -> anchor 0, the second head's mask (0,1,2) index 0
    t = torch.tensor([[0, 0, (20 + 0.5) / 26, (4 + 0.5) / 26, 10 / 416, 14 / 416]])
    g13, g26 = _objectness_grad(model, t)
    assert g26[0, 4, 20] < 0 and (g13 >= 0).all()


def test_iou_thresh_trains_every_anchor_that_fits_the_truth():
    model = _model()
    # 300x300 px truth in 13x13 cell (5, 5): shape IoU .82 with anchor 5 (mask index 2) and
    # .25 with anchor 4 (mask index 1, 135x169); every other anchor is below .213
    t = torch.tensor([[0, 0, 5.5 / 13, 5.5 / 13, 300 / 416, 300 / 416]])
    g13, _ = _objectness_grad(model, t)
    assert g13[2, 5, 5] < 0 and g13[1, 5, 5] > 0  # darknet's rule: the best anchor only
    g13, g26 = _objectness_grad(model, t, iou_thresh=0.213)
    assert g13[2, 5, 5] < 0 and g13[1, 5, 5] < 0  # AlexeyAB's rule: anchor 4 trained too
    assert g13[0, 5, 5] > 0 and (g26 >= 0).all()


def test_ignore_thresh_exact_overlap():
    model = _model()
    head = model.heads[0]
    # a 300x300 px truth: best anchor 5 (IoU .82; anchor 4 only .25) -> trained at mask index 2
    # of the 13x13 head in cell (5, 5). Mask index 1 (anchor 4, 135x169) at the same cell is set
    # to decode to exactly the truth: IoU 1 > ignore_thresh, so no objectness penalty there.
    aw, ah = head.masked_anchors[1]
    outs = [torch.zeros(1, 18, 13, 13), torch.zeros(1, 18, 26, 26)]
    with torch.no_grad():
        outs[0].view(3, 6, 13, 13)[1, 2, 5, 5] = float(np.log(300 / aw))
        outs[0].view(3, 6, 13, 13)[1, 3, 5, 5] = float(np.log(300 / ah))
    outs = [o.requires_grad_() for o in outs]
    t = torch.tensor([[0, 0, 5.5 / 13, 5.5 / 13, 300 / 416, 300 / 416]])
    loss, _ = yolo_loss(outs, model.heads, t, 416, 416)
    loss.backward()
    g = outs[0].grad.view(3, 6, 13, 13)
    assert g[2, 4, 5, 5] < 0  # the assigned anchor: objectness pushed up
    assert g[1, 4, 5, 5] == 0  # the overlapping, unassigned one: ignored
    assert g[1, 0:4, 5, 5].abs().sum() == 0  # and it gets no box gradient
    assert g[0, 4, 0, 0] > 0  # an unrelated prediction is pushed down
    assert g[2, 0:4, 5, 5].abs().sum() > 0  # the assigned one gets box gradients


def test_loss_decreases_on_a_tiny_overfit():
    torch.manual_seed(0)
    cfg, weights = need_coco()
    model = DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))
    model.init_output_convs()
    model.load_darknet_file(weights, source_cfg=cfg)
    model.freeze(model.default_freeze_point())
    model.train()
    images = pistol_images("valid", 2)
    data = DetectionData([(p, p.parent.parent / "labels" / (p.stem + ".txt")) for p in images], (160, 160))
    imgs, targets = data.batch([0, 1])
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    t = torch.from_numpy(targets)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss, parts = yolo_loss(model(x), model.heads, t, 160, 160)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.25 * losses[0], losses
    assert parts["noobj"] < 0.5 and parts["obj"] < 0.5


def test_scale_x_y_moves_the_x_target_to_the_scaled_sigmoid():
    """With yolov4-tiny's scale_x_y=1.05 the centre is 1.05*sigmoid - .025: the x/y loss is at
    its minimum where that, not the plain sigmoid, meets the truth."""
    from dataclasses import replace
    model = _model()
    heads = [replace(h, scale_x_y=1.05) for h in model.heads]
    offset = 0.75  # truth centre three quarters into 13x13 cell (5, 5)
    logit = float(np.log((offset + 0.025) / 1.05 / (1 - (offset + 0.025) / 1.05)))
    assert abs(float(heads[0].cell_offset(torch.tensor(logit))) - offset) < 1e-6
    t = torch.tensor([[0, 0, (5 + offset) / 13, (5 + offset) / 13, 300 / 416, 300 / 416]])

    def x_grad(hs):
        outs = [torch.zeros(1, 18, 13, 13), torch.zeros(1, 18, 26, 26)]
        outs[0].view(3, 6, 13, 13)[2, 0:2, 5, 5] = logit
        outs = [o.requires_grad_() for o in outs]
        loss, _ = yolo_loss(outs, hs, t, 416, 416)
        loss.backward()
        return outs[0].grad.view(3, 6, 13, 13)[2, 0:2, 5, 5]

    assert x_grad(heads).abs().max() < 1e-6
    assert (x_grad(model.heads) < 0).all()  # scale 1: the same logit gives 0.738, short of 0.75


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_iou_loss_scores_match_hand_computed_cases():
    same = _boxes([0.5, 0.5, 0.2, 0.4])
    for kind in ("giou", "diou", "ciou"):
        assert float(iou_loss_score(same, same, kind)) == pytest.approx(1.0)
    # side by side, half overlapping: IoU .02 / .06; hull .3 x .2 = the union's area, so GIoU
    # = IoU; centres .1 apart in a hull of diagonal^2 .13; same shape, so CIoU = DIoU
    pred, truth = _boxes([0.5, 0.5, 0.2, 0.2]), _boxes([0.6, 0.5, 0.2, 0.2])
    assert float(iou_loss_score(pred, truth, "giou")) == pytest.approx(1 / 3)
    assert float(iou_loss_score(pred, truth, "diou")) == pytest.approx(1 / 3 - 0.01 / 0.13)
    assert float(iou_loss_score(pred, truth, "ciou")) == pytest.approx(1 / 3 - 0.01 / 0.13)
    # a cross, same centre: IoU .04 / .12; the aspect term v = 4/pi^2 (atan 2 - atan .5)^2
    pred, truth = _boxes([0.5, 0.5, 0.2, 0.4]), _boxes([0.5, 0.5, 0.4, 0.2])
    v = 4 / math.pi ** 2 * (math.atan(2) - math.atan(0.5)) ** 2
    alpha = v / (1 - 1 / 3 + v)
    assert float(iou_loss_score(pred, truth, "diou")) == pytest.approx(1 / 3)
    assert float(iou_loss_score(pred, truth, "ciou")) == pytest.approx(1 / 3 - alpha * v)
    # far apart: GIoU below 0 by the hull's empty share (.6 x .1 hull, .04 covered)
    assert float(iou_loss_score(_boxes([0.2, 0.5, 0.2, 0.1]), _boxes([0.6, 0.5, 0.2, 0.1]), "giou")) \
        == pytest.approx(0.04 / 0.06 - 1)


def test_ciou_slope_is_alexeyabs():
    """box.c's dx_box_iou: alpha held constant, and the aspect term's w slope is
    alpha * 8/pi^2 * (atan(w_t/h_t) - atan(w/h)) * h, without the formula's 1/(w^2 + h^2)."""
    truth = _boxes([0.5, 0.5, 0.3, 0.1])
    pred = _boxes([0.45, 0.52, 0.1, 0.2]).requires_grad_()
    iou_loss_score(pred, truth, "ciou").sum().backward()
    ciou_slope = pred.grad.clone()
    pred.grad = None
    iou_loss_score(pred, truth, "diou").sum().backward()
    diou_slope = pred.grad
    w, h = 0.1, 0.2
    v = 4 / math.pi ** 2 * (math.atan(3) - math.atan(w / h)) ** 2
    iou = (0.1 * 0.1) / (0.02 + 0.03 - 0.01)  # a .1 x .1 overlap
    alpha = v / (1 - iou + v + 1e-6)
    gap = math.atan(3) - math.atan(w / h)
    assert float(ciou_slope[0, 2] - diou_slope[0, 2]) == pytest.approx(alpha * 8 / math.pi ** 2 * gap * h)
    assert float(ciou_slope[0, 3] - diou_slope[0, 3]) == pytest.approx(-alpha * 8 / math.pi ** 2 * gap * w)
    assert torch.equal(ciou_slope[0, :2], diou_slope[0, :2])  # the aspect term has no centre slope


def test_ciou_head_pushes_raw_outputs_as_alexeyab_delta_yolo_box():
    """yolov4-tiny's cfg (iou_loss=ciou, iou_normalizer=0.07): the raw x output moves by
    0.07 x the CIoU's slope in the box's x (no logistic slope), w by that times exp(tw)."""
    cfg, _ = need_coco("yolov4-tiny")
    model = DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))
    head = model.heads[0]
    assert (head.iou_loss, head.iou_normalizer, head.mask) == ("ciou", 0.07, [3, 4, 5])
    aw, ah = head.masked_anchors[2]  # 344x319: a 300x250 truth's best anchor
    raw = torch.tensor([0.3, -0.4, 0.1, -0.2], dtype=torch.float32)
    outs = [torch.zeros(1, 18, 13, 13), torch.zeros(1, 18, 26, 26)]
    outs[0].view(3, 6, 13, 13)[2, 0:4, 5, 6] = raw
    outs = [o.requires_grad_() for o in outs]
    truth = torch.tensor([[0, 0, 6.4 / 13, 5.7 / 13, 300 / 416, 250 / 416]])
    loss, _ = yolo_loss(outs, model.heads, truth, 416, 416)
    loss.backward()
    got = outs[0].grad.view(3, 6, 13, 13)[2, 0:4, 5, 6]

    box = torch.stack([(head.cell_offset(raw[0]) + 6) / 13, (head.cell_offset(raw[1]) + 5) / 13,
                       torch.exp(raw[2]) * aw / 416, torch.exp(raw[3]) * ah / 416])[None].requires_grad_()
    iou_loss_score(box, truth[:, 2:6], "ciou").sum().backward()
    slope = box.grad[0]
    want = -0.07 * torch.stack([slope[0], slope[1], slope[2] * torch.exp(raw[2]), slope[3] * torch.exp(raw[3])])
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-7), (got, want)


def test_descent_on_the_ciou_loss_lands_the_box_on_its_truth():
    """AlexeyAB's deltas are not the loss's exact gradient (no logistic slope): stepping along
    them must still bring the predicted box onto the truth."""
    cfg, _ = need_coco("yolov4-tiny")
    model = DarknetModel(make_n_class_cfg(read_cfg(cfg), 1))
    head = model.heads[0]
    aw, ah = head.masked_anchors[2]
    outs = [torch.zeros(1, 18, 13, 13, requires_grad=True), torch.zeros(1, 18, 26, 26, requires_grad=True)]
    truth = torch.tensor([[0, 0, 6.2 / 13, 5.9 / 13, 300 / 416, 200 / 416]])

    def predicted_box():
        r = outs[0].detach().view(3, 6, 13, 13)[2, 0:4, 5, 6]
        return torch.stack([(head.cell_offset(r[0]) + 6) / 13, (head.cell_offset(r[1]) + 5) / 13,
                            torch.exp(r[2]) * aw / 416, torch.exp(r[3]) * ah / 416])[None]

    assert float(iou_loss_score(predicted_box(), truth[:, 2:6], "ciou")) < 0.65
    opt = torch.optim.SGD(outs, lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        yolo_loss(outs, model.heads, truth, 416, 416)[0].backward()
        opt.step()
    assert float(iou_loss_score(predicted_box(), truth[:, 2:6], "ciou")) > 0.95
    assert torch.allclose(predicted_box()[0, :2], truth[0, 2:4], atol=0.005)


def test_unknown_iou_loss_is_refused():
    from gunwatch.training.arch.darknet_cfg import Section
    from gunwatch.training.pytorch.torch_yolo import parse_yolo
    sec = Section("yolo", {"mask": "0", "anchors": "10,14", "classes": "1", "iou_loss": "eiou"})
    with pytest.raises(ValueError, match="iou_loss=eiou.*mse, giou, diou, ciou"):
        parse_yolo(sec, 3)
