"""Darknet training cfgs for yolov3 (darknet53), yolov3-tiny and yolov4-tiny, written by code.

The layer lists follow the published networks layer for layer, so the COCO weights (or
darknet53.conv.74 for yolov3) load into them: only the convolution in front of each [yolo]
depends on the number of classes, filters = (classes + 5) * 3. The [net] defaults are the seed
study's training parameters; max_batches is 2000 per class and the learning rate drops tenfold
at 80 % and 90 % of it.
"""
from __future__ import annotations

from dataclasses import dataclass

from .anchors import DEFAULT_ANCHORS, format_anchors
from .darknet_cfg import Section, format_cfg

ARCHITECTURES = ("yolov3", "yolov3-tiny", "yolov4-tiny")


@dataclass(frozen=True)
class TrainParams:
    """[net] options; defaults are the seed study's (batch 64/16, 416, lr 0.001, burn-in 1000)."""

    batch: int = 64
    subdivisions: int = 16
    width: int = 416
    height: int = 416
    channels: int = 3
    momentum: float = 0.9
    decay: float = 0.0005
    angle: float = 0
    saturation: float = 1.5
    exposure: float = 1.5
    hue: float = 0.1
    learning_rate: float = 0.001
    burn_in: int = 1000
    max_batches: int | None = None  # None: 2000 * classes

    def net_section(self, classes: int) -> Section:
        if self.width % 32 or self.height % 32:
            raise ValueError(f"width and height must be multiples of 32 (got {self.width}x{self.height})")
        if self.batch % self.subdivisions:
            raise ValueError(f"batch {self.batch} is not a multiple of subdivisions {self.subdivisions}")
        max_batches = self.max_batches or 2000 * classes
        return Section("net", {
            "batch": str(self.batch), "subdivisions": str(self.subdivisions),
            "width": str(self.width), "height": str(self.height), "channels": str(self.channels),
            "momentum": _num(self.momentum), "decay": _num(self.decay), "angle": _num(self.angle),
            "saturation": _num(self.saturation), "exposure": _num(self.exposure), "hue": _num(self.hue),
            "learning_rate": _num(self.learning_rate), "burn_in": str(self.burn_in),
            "max_batches": str(max_batches), "policy": "steps",
            "steps": f"{int(max_batches * 0.8)},{int(max_batches * 0.9)}", "scales": ".1,.1",
        })


def _num(value: float) -> str:
    return f"{value:g}"


class _Net:
    """Appends layer sections; the return values are layer indices, as routes count them."""

    def __init__(self) -> None:
        self.layers: list[Section] = []

    @property
    def last(self) -> int:
        return len(self.layers) - 1

    def conv(self, filters: int, size: int, stride: int = 1, activation: str = "leaky",
             bn: bool = True) -> int:
        opts = {"batch_normalize": "1"} if bn else {}
        opts.update({"filters": str(filters), "size": str(size), "stride": str(stride), "pad": "1",
                     "activation": activation})
        self.layers.append(Section("convolutional", opts))
        return self.last

    def maxpool(self, size: int, stride: int) -> int:
        self.layers.append(Section("maxpool", {"size": str(size), "stride": str(stride)}))
        return self.last

    def route(self, *layers: int, groups: int | None = None, group_id: int | None = None) -> int:
        opts = {"layers": ",".join(str(v) for v in layers)}
        if groups is not None:
            opts.update({"groups": str(groups), "group_id": str(group_id)})
        self.layers.append(Section("route", opts))
        return self.last

    def route_back(self, layer: int) -> int:
        """Route from one earlier layer, written relative (-4) as darknet's own cfgs do."""
        return self.route(layer - (self.last + 1))

    def shortcut(self, source: int = -3) -> int:
        self.layers.append(Section("shortcut", {"from": str(source), "activation": "linear"}))
        return self.last

    def upsample(self) -> int:
        self.layers.append(Section("upsample", {"stride": "2"}))
        return self.last

    def head(self, classes: int, mask: list[int], anchors: list[tuple[int, int]],
             extra: dict[str, str]) -> int:
        """The class-dependent 1x1 convolution and its [yolo] layer."""
        self.conv((classes + 5) * len(mask), 1, activation="linear", bn=False)
        opts = {"mask": ",".join(map(str, mask)), "anchors": format_anchors(anchors),
                "classes": str(classes), "num": str(len(anchors))}
        opts.update(extra)
        self.layers.append(Section("yolo", opts))
        return self.last


_YOLOV3_YOLO = {"jitter": ".3", "ignore_thresh": ".7", "truth_thresh": "1", "random": "1"}
# AlexeyAB's yolov4-tiny options: CIoU loss, grid-sensitive centres, greedy NMS in training.
_YOLOV4_YOLO = {"jitter": ".3", "scale_x_y": "1.05", "cls_normalizer": "1.0", "iou_normalizer": "0.07",
                "iou_loss": "ciou", "ignore_thresh": ".7", "truth_thresh": "1", "random": "0",
                "resize": "1.5", "nms_kind": "greedynms", "beta_nms": "0.6"}


def _yolov3(net: _Net, classes: int, anchors: list[tuple[int, int]]) -> None:
    """darknet53 backbone (layers 0-74) and three detection scales: 107 layers, 0 to 106."""
    net.conv(32, 3)
    stage_end: dict[int, int] = {}  # filters -> last layer of that stage
    for filters, blocks in ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4)):
        net.conv(filters, 3, stride=2)
        for _ in range(blocks):
            net.conv(filters // 2, 1)
            net.conv(filters, 3)
            net.shortcut(-3)
        stage_end[filters] = net.last
    # stride 32, 16 and 8 heads; the two finer ones also see the backbone at their stride
    # (layers 61 and 36).
    for filters, mask, skip in ((512, [6, 7, 8], stage_end[512]), (256, [3, 4, 5], stage_end[256]),
                                (128, [0, 1, 2], None)):
        for _ in range(3):
            net.conv(filters, 1)
            net.conv(filters * 2, 3)
        branch = net.last - 1  # the last 1x1 layer feeds the next, finer scale
        net.head(classes, mask, anchors, _YOLOV3_YOLO)
        if skip is not None:
            net.route_back(branch)
            net.conv(filters // 2, 1)
            net.upsample()
            net.route(-1, skip)


def _yolov3_tiny(net: _Net, classes: int, anchors: list[tuple[int, int]]) -> None:
    for filters in (16, 32, 64, 128, 256):
        net.conv(filters, 3)
        net.maxpool(2, 2)
    scale_16 = net.last - 1  # 8: the 256-filter layer before the last stride-2 pool
    net.conv(512, 3)
    net.maxpool(2, 1)
    net.conv(1024, 3)
    _tiny_neck(net, classes, anchors, scale_16, _YOLOV3_YOLO)


def _tiny_neck(net: _Net, classes: int, anchors: list[tuple[int, int]], scale_16: int, yolo: dict) -> None:
    """The two-head neck yolov3-tiny and yolov4-tiny share: a stride-32 head on the backbone's
    end, then an upsampled branch joined with the stride-16 layer for the second head."""
    net.conv(256, 1)
    branch = net.last
    net.conv(512, 3)
    net.head(classes, [3, 4, 5], anchors, yolo)
    net.route_back(branch)
    net.conv(128, 1)
    net.upsample()
    net.route(-1, scale_16)
    net.conv(256, 3)
    # AlexeyAB's yolov4-tiny.cfg has mask 1,2,3 here, leaving anchor 0 unused (kept so COCO
    # results stay comparable); anchors fitted to the data should all be used. Masks do not
    # change the weights' shapes.
    net.head(classes, [0, 1, 2], anchors, yolo)


def _csp_block(net: _Net, filters: int) -> int:
    """yolov4-tiny's cross-stage-partial block; returns the layer the neck reuses."""
    net.conv(filters, 3)
    net.route(-1, groups=2, group_id=1)  # second half of the channels
    net.conv(filters // 2, 3)
    net.conv(filters // 2, 3)
    net.route(-1, -2)
    net.conv(filters, 1)
    partial = net.last
    net.route(-6, -1)
    net.maxpool(2, 2)
    return partial


def _yolov4_tiny(net: _Net, classes: int, anchors: list[tuple[int, int]]) -> None:
    net.conv(32, 3, stride=2)
    net.conv(64, 3, stride=2)
    _csp_block(net, 64)
    _csp_block(net, 128)
    scale_16 = _csp_block(net, 256)  # 23
    net.conv(512, 3)
    _tiny_neck(net, classes, anchors, scale_16, _YOLOV4_YOLO)


_BUILDERS = {"yolov3": _yolov3, "yolov3-tiny": _yolov3_tiny, "yolov4-tiny": _yolov4_tiny}


def generate_sections(arch: str, classes: int, anchors: list[tuple[int, int]] | None = None,
                      params: TrainParams = TrainParams()) -> list[Section]:
    """[net] plus the layers of ``arch`` for ``classes`` classes. ``anchors``: whole pixels,
    sorted by area (None: the stock cfg's)."""
    if arch not in _BUILDERS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if classes < 1:
        raise ValueError(f"classes must be 1 or more (got {classes})")
    anchors = list(anchors or DEFAULT_ANCHORS[arch])
    wanted = len(DEFAULT_ANCHORS[arch])
    if len(anchors) != wanted:
        raise ValueError(f"{arch} takes {wanted} anchors (got {len(anchors)})")
    net = _Net()
    _BUILDERS[arch](net, classes, anchors)
    return [params.net_section(classes), *net.layers]


def architecture_of(sections: list[Section]) -> str | None:
    """Which of ARCHITECTURES a cfg describes, told by its sequence of layer kinds alone (classes,
    anchors, filters and training options may differ); None for any other network."""
    kinds = [s.kind for s in sections[1:]]
    for arch in ARCHITECTURES:
        if kinds == [s.kind for s in generate_sections(arch, 1)[1:]]:
            return arch
    return None


def generate_cfg(arch: str, classes: int, anchors: list[tuple[int, int]] | None = None,
                 params: TrainParams = TrainParams()) -> str:
    """The cfg text, with a header saying what generated it."""
    body = format_cfg(generate_sections(arch, classes, anchors, params))
    return (f"# {arch} for {classes} class(es), generated by `gunwatch train config`\n"
            f"# filters before each [yolo] = (classes + 5) * 3 = {(classes + 5) * 3}\n" + body)
