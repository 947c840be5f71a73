"""YOLOv3 loss following darknet's yolo_layer.c (forward_yolo_layer), in PyTorch, with
AlexeyAB's IoU box losses (GIoU, DIoU, CIoU) for cfgs that ask for them."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .torch_yolo import YoloHead


def box_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of (..., N, 4) against (..., M, 4) centre boxes -> (..., N, M)."""
    a1, a2 = a[..., None, :2] - a[..., None, 2:] / 2, a[..., None, :2] + a[..., None, 2:] / 2
    b1, b2 = b[..., None, :, :2] - b[..., None, :, 2:] / 2, b[..., None, :, :2] + b[..., None, :, 2:] / 2
    wh = (torch.minimum(a2, b2) - torch.maximum(a1, b1)).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (a[..., None, 2] * a[..., None, 3]) + (b[..., None, :, 2] * b[..., None, :, 3]) - inter
    return inter / union.clamp(min=1e-12)


def _value_with_slope(value: torch.Tensor, carrier: torch.Tensor) -> torch.Tensor:
    """``value`` going forward; going back, its gradient flows on as if it had reached ``carrier``.

    AlexeyAB adds the IoU's slope to the raw outputs as if they were the box (x/y) or exp of
    them (w/h), skipping the decoding's own slopes; this carries that rule into autograd."""
    return value.detach() + carrier - carrier.detach()


def iou_loss_score(pred: torch.Tensor, truth: torch.Tensor, kind: str) -> torch.Tensor:
    """GIoU, DIoU or CIoU of (N, 4) centre boxes against their truths, 1 for a perfect fit.

    The gradient is AlexeyAB's (box.c, dx_box_iou), not the formula's own: CIoU's alpha is a
    constant, and the aspect term's slope leaves out its 1 / (w^2 + h^2) factor, which explodes
    for small boxes (Zheng et al., AAAI 2020, section 3.3, do the same).
    """
    p1, p2 = pred[:, :2] - pred[:, 2:] / 2, pred[:, :2] + pred[:, 2:] / 2
    t1, t2 = truth[:, :2] - truth[:, 2:] / 2, truth[:, :2] + truth[:, 2:] / 2
    overlap = (torch.minimum(p2, t2) - torch.maximum(p1, t1)).clamp(min=0)
    inter = overlap[:, 0] * overlap[:, 1]
    union = pred[:, 2] * pred[:, 3] + truth[:, 2] * truth[:, 3] - inter
    iou = inter / union.clamp(min=1e-12)
    hull = torch.maximum(p2, t2) - torch.minimum(p1, t1)
    if kind == "giou":
        hull_area = (hull[:, 0] * hull[:, 1]).clamp(min=1e-12)
        return iou - (hull_area - union) / hull_area
    centre_gap = ((pred[:, :2] - truth[:, :2]) ** 2).sum(1)
    diou = iou - centre_gap / (hull ** 2).sum(1).clamp(min=1e-12)
    if kind == "diou":
        return diou
    angle_gap = torch.atan(truth[:, 2] / truth[:, 3]) - torch.atan(pred[:, 2] / pred[:, 3])
    v = 4 / math.pi ** 2 * angle_gap ** 2
    alpha = (v / (1 - iou + v + 1e-6)).detach()
    v = _value_with_slope(v, v * (pred[:, 2] ** 2 + pred[:, 3] ** 2).detach())
    return diou - alpha * v


def _box_loss(head: YoloHead, raw: torch.Tensor, truth: torch.Tensor, gi: torch.Tensor, gj: torch.Tensor,
              grid: tuple[int, int], anchors: torch.Tensor) -> torch.Tensor:
    """Box terms of the positives: raw (n, 4) outputs tx ty tw th in cells gi, gj of a
    (width, height) grid, against centre-box truths; anchors (n, 2) relative to the input."""
    gw, gh = grid
    if head.iou_loss == "mse":
        scale = 2.0 - truth[:, 2] * truth[:, 3]
        tx = head.offset_target(truth[:, 0] * gw - gi)
        ty = head.offset_target(truth[:, 1] * gh - gj)
        tw_th = torch.log(truth[:, 2:] / anchors)
        bce = F.binary_cross_entropy_with_logits
        return (scale * (bce(raw[:, 0], tx, reduction="none") + bce(raw[:, 1], ty, reduction="none")
                         + 0.5 * ((raw[:, 2:] - tw_th) ** 2).sum(1))).sum()
    grow = torch.exp(raw[:, 2:].clamp(max=20))
    box = torch.cat([
        _value_with_slope((head.cell_offset(raw[:, 0:1]) + gi[:, None]) / gw, raw[:, 0:1]),
        _value_with_slope((head.cell_offset(raw[:, 1:2]) + gj[:, None]) / gh, raw[:, 1:2]),
        _value_with_slope(grow * anchors, grow),
    ], 1)
    return head.iou_normalizer * (1 - iou_loss_score(box, truth, head.iou_loss)).sum()


def yolo_loss(outputs: list[torch.Tensor], heads: list[YoloHead], targets: torch.Tensor,
              net_w: int, net_h: int, iou_thresh: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss summed over outputs and divided by the batch size (darknet's lr/batch update).

    targets: (T, 6) rows ``image_index, class, cx, cy, w, h`` (relative to the input).

    Per darknet: a prediction whose best IoU with any truth of its image exceeds
    ignore_thresh gets no objectness penalty; each truth is matched to the best anchor among
    *all* anchors by shape and trained only in the head whose mask holds that anchor, in the
    cell containing its centre; box terms are scaled by (2 - w*h); x/y and objectness/classes
    use logistic deltas (= BCE gradients), w/h a squared error on the log scale.

    A head with iou_loss giou/diou/ciou (AlexeyAB; yolov4-tiny's cfg says ciou) replaces the
    x/y/w/h terms with iou_normalizer x (1 - score), applied as AlexeyAB's delta_yolo_box does:
    straight to the raw outputs, x/y without the logistic's slope and w/h through exp only, and
    without the (2 - w*h) scale.

    iou_thresh < 1 is AlexeyAB's [yolo] iou_thresh: every other anchor whose shape IoU with the
    truth exceeds it is trained on that truth too, in its own head and cell. More positives per
    truth give the heads more to learn from on small and mid-sized objects.
    """
    device = outputs[0].device
    batch = outputs[0].shape[0]
    anchors_all = torch.tensor(heads[0].anchors, dtype=torch.float32, device=device)
    anchors_all = anchors_all / torch.tensor([net_w, net_h], dtype=torch.float32, device=device)

    # truths per image, padded, for the ignore test
    n_per = torch.bincount(targets[:, 0].long(), minlength=batch) if len(targets) else \
        torch.zeros(batch, dtype=torch.long, device=device)
    max_t = int(n_per.max()) if len(targets) else 0
    truth_pad = torch.zeros(batch, max(max_t, 1), 4, device=device)
    truth_valid = torch.zeros(batch, max(max_t, 1), dtype=torch.bool, device=device)
    if len(targets):
        order = torch.argsort(targets[:, 0], stable=True)
        t_sorted = targets[order]
        img = t_sorted[:, 0].long()
        start = torch.cumsum(n_per, 0) - n_per
        slot = torch.arange(len(t_sorted), device=device) - start[img]
        truth_pad[img, slot] = t_sorted[:, 2:6]
        truth_valid[img, slot] = True

        # best anchor over all anchors by shape IoU (boxes centred at 0,0)
        tw, th = targets[:, 4:5], targets[:, 5:6]
        inter = torch.minimum(tw, anchors_all[:, 0]) * torch.minimum(th, anchors_all[:, 1])
        shape_iou = inter / (tw * th + anchors_all[:, 0] * anchors_all[:, 1] - inter)
        best_n = shape_iou.argmax(1)
        also = shape_iou > iou_thresh
        also[torch.arange(len(targets), device=device), best_n] = False
        extra_t, extra_n = also.nonzero(as_tuple=True)
        pair_t = torch.cat([torch.arange(len(targets), device=device), extra_t])
        pair_n = torch.cat([best_n, extra_n])

    total = outputs[0].new_zeros(())
    parts = {"box": 0.0, "obj": 0.0, "noobj": 0.0, "cls": 0.0}
    for raw, head in zip(outputs, heads):
        b, _, gh, gw = raw.shape
        na, nc = len(head.mask), head.classes
        p = raw.view(b, na, 5 + nc, gh, gw).permute(0, 1, 3, 4, 2)
        anc = torch.tensor(head.masked_anchors, dtype=raw.dtype, device=device)
        gy, gx = torch.meshgrid(torch.arange(gh, device=device, dtype=raw.dtype),
                                torch.arange(gw, device=device, dtype=raw.dtype), indexing="ij")
        with torch.no_grad():
            px = (head.cell_offset(p[..., 0]) + gx) / gw
            py = (head.cell_offset(p[..., 1]) + gy) / gh
            pw = torch.exp(p[..., 2].clamp(max=20)) * anc[:, 0].view(1, na, 1, 1) / net_w
            ph = torch.exp(p[..., 3].clamp(max=20)) * anc[:, 1].view(1, na, 1, 1) / net_h
            pred = torch.stack([px, py, pw, ph], -1).view(b, -1, 4)
            ious = box_iou_cxcywh(pred, truth_pad)  # (b, na*gh*gw, max_t)
            ious = ious.masked_fill(~truth_valid[:, None, :], 0)
            best_iou = ious.max(-1).values.view(b, na, gh, gw)
            noobj = best_iou <= head.ignore_thresh

        obj_target = torch.zeros(b, na, gh, gw, device=device)
        pos = torch.zeros(b, na, gh, gw, dtype=torch.bool, device=device)
        box_loss = raw.new_zeros(())
        cls_loss = raw.new_zeros(())
        if len(targets):
            mask_t = torch.tensor(head.mask, device=device)
            in_head = (pair_n[:, None] == mask_t[None]).any(1)
            t = targets[pair_t[in_head]]
            if len(t):
                a_idx = (pair_n[in_head][:, None] == mask_t[None]).float().argmax(1)
                bi = t[:, 0].long()
                gi = (t[:, 2] * gw).long().clamp(0, gw - 1)
                gj = (t[:, 3] * gh).long().clamp(0, gh - 1)
                # several truths on the same cell/anchor: darknet keeps the last one written
                key = ((bi * na + a_idx) * gh + gj) * gw + gi
                last = torch.zeros(int(key.max()) + 1, dtype=torch.long, device=device)
                last[key] = torch.arange(len(key), device=device)
                keep = last[key] == torch.arange(len(key), device=device)
                t, bi, a_idx, gi, gj = t[keep], bi[keep], a_idx[keep], gi[keep], gj[keep]
                pos[bi, a_idx, gj, gi] = True
                obj_target[bi, a_idx, gj, gi] = 1.0
                sel = p[bi, a_idx, gj, gi]  # (n, 5+nc)
                box_loss = _box_loss(head, sel[:, :4], t[:, 2:6], gi, gj, (gw, gh),
                                     anc[a_idx] / torch.tensor([net_w, net_h], dtype=raw.dtype, device=device))
                bce = F.binary_cross_entropy_with_logits
                cls_t = F.one_hot(t[:, 1].long(), nc).to(sel.dtype)
                cls_loss = bce(sel[:, 5:], cls_t, reduction="sum")
        obj_logit = p[..., 4]
        obj_all = F.binary_cross_entropy_with_logits(obj_logit, obj_target, reduction="none")
        obj_loss = obj_all[pos].sum()
        noobj_loss = obj_all[noobj & ~pos].sum()
        total = total + box_loss + obj_loss + noobj_loss + cls_loss
        parts["box"] += float(box_loss.detach())
        parts["obj"] += float(obj_loss.detach())
        parts["noobj"] += float(noobj_loss.detach())
        parts["cls"] += float(cls_loss.detach())
    return total / batch, {k: v / batch for k, v in parts.items()}
