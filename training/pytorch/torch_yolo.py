"""A PyTorch nn.Module built from a darknet cfg (the layer types of yolov3-tiny and yolov4-tiny)
with darknet weights I/O."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..arch.darknet_cfg import Section, conv_specs, layer_output_channels, layer_sections, read_cfg
from ...darknet.weights import WeightsHeader
from ..arch.darknet_weights import ConvWeights, DarknetWeights, read_weights, write_weights

# darknet's normalize_cpu divides by sqrt(var) + .000001; OpenCV folds it as sqrt(var + eps).
# The difference is far below float noise for real running variances.
BN_EPS = 1e-6


class ConvBlock(nn.Module):
    def __init__(self, sec: Section, in_c: int) -> None:
        super().__init__()
        filters = sec.get_int("filters", 1)
        size = sec.get_int("size", 1)
        stride = sec.get_int("stride", 1)
        pad = size // 2 if sec.get_int("pad", 0) else sec.get_int("padding", 0)
        self.bn_enabled = bool(sec.get_int("batch_normalize", 0))
        self.conv = nn.Conv2d(in_c, filters, size, stride, pad, bias=not self.bn_enabled)
        # momentum 0.01 = darknet's rolling average (.99 old + .01 new)
        self.bn = nn.BatchNorm2d(filters, eps=BN_EPS, momentum=0.01) if self.bn_enabled else None
        act = sec.get("activation", "logistic")
        if act not in ("leaky", "linear"):
            raise ValueError(f"[convolutional] activation={act} is not supported (leaky, linear)")
        self.leaky = act == "leaky"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.leaky_relu(x, 0.1) if self.leaky else x


class MaxPool(nn.Module):
    """darknet maxpool: padding defaults to size-1, split so the extra cell is right/bottom."""

    def __init__(self, sec: Section) -> None:
        super().__init__()
        self.size = sec.get_int("size", sec.get_int("stride", 1))
        self.stride = sec.get_int("stride", 1)
        padding = sec.get_int("padding", self.size - 1)
        self.pad_lo = padding // 2
        self.pad_hi = padding - self.pad_lo

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad_lo or self.pad_hi:
            x = F.pad(x, (self.pad_lo, self.pad_hi, self.pad_lo, self.pad_hi), value=float("-inf"))
        return F.max_pool2d(x, self.size, self.stride)


class Upsample(nn.Module):
    def __init__(self, sec: Section) -> None:
        super().__init__()
        self.stride = sec.get_int("stride", 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.stride, mode="nearest")


@dataclass
class YoloHead:
    """Static description of one [yolo] layer."""

    layer: int
    mask: list[int]
    anchors: list[tuple[float, float]]  # all anchors of the cfg, in pixels of the net input
    classes: int
    ignore_thresh: float
    truth_thresh: float
    # AlexeyAB's scale_x_y (yolov4-tiny: 1.05) lets a centre reach its cell's edges, which a plain
    # sigmoid only approaches.
    scale_x_y: float = 1.0
    # AlexeyAB's box loss: mse (darknet's), or giou/diou/ciou (yolov4: ciou, weighted 0.07).
    # AlexeyAB also weights mse by iou_normalizer; here mse stays unweighted, as every run before
    # iou_loss was read trained, so a cfg switched back to iou_loss=mse trains as they did.
    iou_loss: str = "mse"
    iou_normalizer: float = 1.0

    @property
    def masked_anchors(self) -> list[tuple[float, float]]:
        return [self.anchors[m] for m in self.mask]

    def cell_offset(self, logits: torch.Tensor) -> torch.Tensor:
        """Box centre within its cell (0..1, a little beyond with scale_x_y > 1) from tx or ty."""
        s = self.scale_x_y
        return torch.sigmoid(logits) * s - (s - 1) / 2

    def offset_target(self, offset: torch.Tensor) -> torch.Tensor:
        """The sigmoid value that cell_offset turns into this offset: the target of the x/y BCE."""
        s = self.scale_x_y
        return (offset + (s - 1) / 2) / s


def parse_yolo(sec: Section, layer: int) -> YoloHead:
    a = sec.get_floats("anchors")
    anchors = [(a[2 * k], a[2 * k + 1]) for k in range(len(a) // 2)]
    num = sec.get_int("num", len(anchors))
    anchors = anchors[:num]
    mask = sec.get_ints("mask") or list(range(num))
    return YoloHead(layer, mask, anchors, sec.get_int("classes", 20),
                    sec.get_float("ignore_thresh", 0.5), sec.get_float("truth_thresh", 1.0),
                    sec.get_float("scale_x_y", 1.0), iou_loss_kind(sec),
                    sec.get_float("iou_normalizer", 1.0))


IOU_LOSSES = ("mse", "giou", "diou", "ciou")


def iou_loss_kind(sec: Section) -> str:
    kind = sec.get("iou_loss", "mse").strip().lower()
    if kind not in IOU_LOSSES:
        raise ValueError(f"[yolo] iou_loss={kind} is not supported ({', '.join(IOU_LOSSES)})")
    return kind


class DarknetModel(nn.Module):
    """Runs the cfg's layers in order. forward() returns the raw outputs of the [yolo] layers."""

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections
        net = sections[0]
        self.width = net.get_int("width", 416)
        self.height = net.get_int("height", 416)
        layers = layer_sections(sections)
        outs = layer_output_channels(sections)
        in_c = net.get_int("channels", 3)
        self.layers = nn.ModuleList()
        self.kinds: list[str] = []
        self.routes: dict[int, list[int]] = {}
        # yolov4-tiny's `groups=2 group_id=1` routes pass on one slice of their inputs' channels
        self.route_slices: dict[int, tuple[int, int]] = {}
        self.heads: list[YoloHead] = []
        for i, sec in enumerate(layers):
            prev_c = outs[i - 1] if i else in_c
            if sec.type in ("convolutional", "conv"):
                mod: nn.Module = ConvBlock(sec, prev_c)
            elif sec.type in ("maxpool", "max"):
                mod = MaxPool(sec)
            elif sec.type == "upsample":
                mod = Upsample(sec)
            elif sec.type == "route":
                self.routes[i] = [v if v >= 0 else i + v for v in sec.get_ints("layers")]
                groups = sec.get_int("groups", 1)
                if groups > 1:
                    self.route_slices[i] = (groups, sec.get_int("group_id", 0))
                mod = nn.Identity()
            elif sec.type == "yolo":
                self.heads.append(parse_yolo(sec, i))
                mod = nn.Identity()
            else:
                raise ValueError(f"layer {i}: [{sec.type}] is not supported by the torch model")
            self.layers.append(mod)
            self.kinds.append(sec.type)
        needed = {j for r in self.routes.values() for j in r}
        self._keep = needed
        self.frozen_upto = 0  # layers [0, frozen_upto) are frozen when set by freeze()

    @classmethod
    def from_cfg(cls, path: str | Path) -> "DarknetModel":
        return cls(read_cfg(path))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        saved: dict[int, torch.Tensor] = {}
        outputs = []
        for i, (kind, layer) in enumerate(zip(self.kinds, self.layers)):
            if kind == "route":
                srcs = [saved[j] for j in self.routes[i]]
                if i in self.route_slices:
                    groups, group_id = self.route_slices[i]
                    srcs = [t.chunk(groups, 1)[group_id] for t in srcs]
                x = srcs[0] if len(srcs) == 1 else torch.cat(srcs, 1)
            elif kind == "yolo":
                outputs.append(x)
            else:
                x = layer(x)
            if i in self._keep:
                saved[i] = x
        return outputs

    # ----- freezing -----------------------------------------------------------------------
    def freeze(self, upto: int) -> None:
        """Freeze layers [0, upto): no gradients and batch-norm kept on its running stats."""
        self.frozen_upto = upto
        for i, layer in enumerate(self.layers):
            for p in layer.parameters():
                p.requires_grad_(i >= upto)
        self.train(self.training)

    def train(self, mode: bool = True) -> "DarknetModel":
        super().train(mode)
        for i in range(min(self.frozen_upto, len(self.layers))):
            self.layers[i].eval()
        return self

    def default_freeze_point(self) -> int:
        """First layer of the first [yolo] head's branch (the layer a later route goes back to).

        For yolov3-tiny this is layer 13 (1x1 conv after the 1024 conv): layers 0-12 are the
        backbone.
        """
        first_head = self.heads[0].layer
        targets = [j for i, r in self.routes.items() if i > first_head for j in r if j < first_head]
        branch = max(targets) if targets else first_head - 1
        return branch

    # ----- weights I/O --------------------------------------------------------------------
    def conv_layers(self) -> dict[int, ConvBlock]:
        return {i: m for i, m in enumerate(self.layers) if isinstance(m, ConvBlock)}

    def load_darknet(self, weights: DarknetWeights, upto: int | None = None,
                     only_matching: bool = True) -> list[int]:
        """Copy arrays into the conv layers (layer < upto if given). Returns loaded layer ids.

        With only_matching, layers whose shapes differ (for example the 255-filter COCO output
        convs against 18 filters for one class) are skipped and keep their initialisation;
        otherwise a mismatch raises.
        """
        loaded = []
        for i, block in self.conv_layers().items():
            if upto is not None and i >= upto:
                continue
            src = weights.layers.get(i)
            if src is None:
                continue
            same = (tuple(src.weights.shape) == tuple(block.conv.weight.shape)
                    and src.batch_normalize == block.bn_enabled)
            if not same:
                if only_matching:
                    continue
                raise ValueError(f"layer {i}: weights {src.weights.shape} vs model "
                                 f"{tuple(block.conv.weight.shape)}")
            with torch.no_grad():
                block.conv.weight.copy_(torch.from_numpy(src.weights))
                if block.bn is not None:
                    block.bn.bias.copy_(torch.from_numpy(src.biases))
                    block.bn.weight.copy_(torch.from_numpy(src.scales))
                    block.bn.running_mean.copy_(torch.from_numpy(src.rolling_mean))
                    block.bn.running_var.copy_(torch.from_numpy(src.rolling_var))
                else:
                    block.conv.bias.copy_(torch.from_numpy(src.biases))
            loaded.append(i)
        return loaded

    def load_darknet_file(self, path: str | Path, source_cfg: str | Path | list[Section] | None = None,
                          upto: int | None = None, only_matching: bool = True) -> list[int]:
        """Load a .weights file; ``source_cfg`` is the cfg the file was saved with (default: ours)."""
        src = self.sections if source_cfg is None else (
            source_cfg if isinstance(source_cfg, list) else read_cfg(source_cfg))
        w = read_weights(path, conv_specs(src), upto=upto)
        self.seen = w.header.seen
        return self.load_darknet(w, upto=upto, only_matching=only_matching)

    def to_darknet(self, seen: int = 0) -> DarknetWeights:
        out = DarknetWeights(WeightsHeader(0, 2, 0, int(seen)))
        for i, block in self.conv_layers().items():
            def a(t: torch.Tensor) -> np.ndarray:
                return t.detach().cpu().float().numpy().copy()
            if block.bn is not None:
                out.layers[i] = ConvWeights(a(block.bn.bias), a(block.conv.weight), a(block.bn.weight),
                                            a(block.bn.running_mean), a(block.bn.running_var))
            else:
                out.layers[i] = ConvWeights(a(block.conv.bias), a(block.conv.weight))
        return out

    def save_darknet_file(self, path: str | Path, seen: int = 0) -> None:
        write_weights(path, self.to_darknet(seen), conv_specs(self.sections))

    def init_output_convs(self) -> None:
        """Darknet-like init for the conv right before each [yolo]: small weights, zero bias,
        objectness bias at a low prior so training starts without a flood of false positives."""
        for head in self.heads:
            block = self.layers[head.layer - 1]
            assert isinstance(block, ConvBlock) and block.bn is None
            with torch.no_grad():
                nn.init.normal_(block.conv.weight, 0.0, 0.01)
                bias = block.conv.bias.view(len(head.mask), -1)
                bias.zero_()
                bias[:, 4] = math.log(0.01 / 0.99)


def decode(raw: torch.Tensor, head: YoloHead, net_w: int, net_h: int) -> torch.Tensor:
    """Darknet [yolo] decode: (B, A*(5+C), H, W) -> (B, A, H, W, 5+C) with x, y, w, h relative
    to the input (0..1), objectness and per-class probability (both sigmoid)."""
    b, _, h, w = raw.shape
    na = len(head.mask)
    p = raw.view(b, na, 5 + head.classes, h, w).permute(0, 1, 3, 4, 2)
    gy, gx = torch.meshgrid(torch.arange(h, dtype=raw.dtype, device=raw.device),
                            torch.arange(w, dtype=raw.dtype, device=raw.device), indexing="ij")
    anc = torch.tensor(head.masked_anchors, dtype=raw.dtype, device=raw.device)
    x = (head.cell_offset(p[..., 0]) + gx) / w
    y = (head.cell_offset(p[..., 1]) + gy) / h
    bw = torch.exp(p[..., 2]) * anc[:, 0].view(1, na, 1, 1) / net_w
    bh = torch.exp(p[..., 3]) * anc[:, 1].view(1, na, 1, 1) / net_h
    rest = torch.sigmoid(p[..., 4:])
    return torch.cat([x[..., None], y[..., None], bw[..., None], bh[..., None], rest], -1)


def decode_outputs(model: DarknetModel, outs: list[torch.Tensor], net_w: int, net_h: int) -> torch.Tensor:
    """The raw [yolo] outputs of forward() -> (B, N, 5+C) decoded rows of every head, in float32:
    a box centre is its cell's index plus an offset, which bfloat16's 8-bit mantissa would round
    to a tenth of a cell."""
    b = outs[0].shape[0]
    return torch.cat([decode(o.float(), hd, net_w, net_h).reshape(b, -1, 5 + hd.classes)
                      for o, hd in zip(outs, model.heads)], 1)


def predict(model: DarknetModel, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB 0..1 -> (B, N, 5+C) decoded rows of every head (cx, cy, w, h relative)."""
    return decode_outputs(model, model(images), images.shape[3], images.shape[2])
