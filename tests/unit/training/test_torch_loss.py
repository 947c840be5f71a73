"""YOLOv3 loss: darknet's anchor assignment, ignore threshold, and a tiny overfit."""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import need_torch

torch = need_torch()

from gunwatch.training.darknet_cfg import make_n_class_cfg, read_cfg  # noqa: E402
from gunwatch.training.data import DetectionData  # noqa: E402
from gunwatch.training.torch_loss import yolo_loss  # noqa: E402
from gunwatch.training.torch_yolo import DarknetModel  # noqa: E402

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
