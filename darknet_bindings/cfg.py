"""Read darknet .cfg files, and the layer shapes a weights file must hold (checked in weights.py).
The one cfg parser of gunwatch: the training tools (gunwatch.training.arch.darknet_cfg) build on it.

darknet's parsers call exit() on a missing file or unknown section, and pjreddie's loader reads
weights of the wrong shape without complaint (80-class COCO weights into a 1-class cfg give
garbage boxes). Checking sizes here turns both into a clear error that names the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

LAYER_TYPES_WITHOUT_WEIGHTS = {
    "maxpool", "route", "upsample", "shortcut", "yolo", "region", "dropout", "avgpool",
    "softmax", "cost", "reorg", "reorg3d", "sam", "scale_channels",
}


class CfgError(ConfigError, ValueError):
    """A cfg darknet would not accept; the message names the file and line."""


@dataclass
class Section:
    """One ``[kind]`` block of a cfg with its options in file order (``type`` is the same as
    ``kind``, the name the training tools use)."""

    kind: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0

    @property
    def type(self) -> str:
        return self.kind

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def int(self, key: str, default: int) -> int:
        return int(self.options.get(key, default))

    get_int = int

    def get_float(self, key: str, default: float) -> float:
        return float(self.options.get(key, default))

    def get_ints(self, key: str) -> list[int]:
        return [int(v) for v in self.options.get(key, "").split(",") if v.strip()]

    def get_floats(self, key: str) -> list[float]:
        return [float(v) for v in self.options.get(key, "").split(",") if v.strip()]


def parse_cfg_text(text: str, source: str = "<cfg>") -> list[Section]:
    """Parse cfg text as darknet's read_cfg does: every whitespace character removed, lines
    starting with '#' or ';' skipped. A '#' or ';' later in a line starts a comment too (darknet
    would keep it in the value, where atoi/atof happen to stop at it)."""
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = "".join(raw.split("#", 1)[0].split(";", 1)[0].split())
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise CfgError(f"{source}:{number}: malformed section header {raw.strip()!r}")
            sections.append(Section(line[1:-1].lower(), line=number))
        elif "=" in line:
            if not sections:
                raise CfgError(f"{source}:{number}: option {raw.strip()!r} before any [section]")
            key, value = line.split("=", 1)
            sections[-1].options[key] = value
        else:
            raise CfgError(f"{source}:{number}: expected `key=value`, got {raw.strip()!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise CfgError(f"{source}: a darknet cfg must start with a [net] section")
    return sections


def read_cfg(path: str | os.PathLike) -> list[Section]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model cfg ({exc.strerror})") from exc
    return parse_cfg_text(text, str(path))


def layer_output_channels(sections: list[Section], path: str | os.PathLike = "cfg") -> list[int]:
    """Output channels of every layer, as darknet computes them while building the network."""
    channels = sections[0].int("channels", 3)
    out: list[int] = []
    for index, section in enumerate(sections[1:]):
        c_in = out[-1] if out else channels
        if section.kind in ("convolutional", "conv"):
            c_out = section.int("filters", 1)
        elif section.kind == "route":
            idx = [r if r >= 0 else index + r for r in section.get_ints("layers")]
            c_out = sum(out[i] for i in idx) // section.int("groups", 1)
        elif section.kind in ("connected", "local", "rnn", "lstm", "gru", "crnn", "deconvolutional"):
            raise CfgError(f"{path}:{section.line}: [{section.kind}] layers are not supported "
                           "by gunwatch's model check; use a YOLO detection cfg")
        elif section.kind in LAYER_TYPES_WITHOUT_WEIGHTS:
            c_out = c_in
        else:
            raise CfgError(f"{path}:{section.line}: unknown darknet layer [{section.kind}]")
        out.append(c_out)
    return out


# Options that change a layer's maths and that pjreddie's parser (Debian's libdarknet, 2018)
# never reads: it builds the layer without them, the weights still fit, and the network answers
# with wrong boxes instead of an error. Each with the value that means "not used"; yolov4-tiny
# uses the first three.
_PJREDDIE_IGNORES = {
    "route": {"groups": 1, "group_id": 0},
    "yolo": {"scale_x_y": 1, "new_coords": 0},
    "maxpool": {"maxpool_depth": 0},
}
_PJREDDIE_ACTIVATIONS = {
    "logistic", "loggy", "relu", "elu", "selu", "relie", "plse", "hardtan", "lhtan", "linear",
    "ramp", "leaky", "tanh", "stair",
}
_PJREDDIE_LAYERS = {
    "net", "network", "convolutional", "conv", "maxpool", "max", "route", "upsample",
    "shortcut", "yolo", "region", "dropout", "avgpool", "avg", "softmax", "soft", "cost",
    "reorg", "connected", "conn", "local", "rnn", "lstm", "gru", "crnn", "deconvolutional",
    "crop", "detection", "activation", "batchnorm", "normalization", "lrn", "l2norm",
    "logistic",
}


def beyond_pjreddie(sections: list[Section]) -> list[str]:
    """What in this cfg pjreddie's darknet would build wrongly, one entry per section;
    empty when that library runs the cfg as written. Training-only options (iou_thresh, mosaic)
    are left out: they do not change what a loaded network computes."""
    problems = []
    for section in sections:
        if section.kind not in _PJREDDIE_LAYERS:
            problems.append(f"[{section.kind}] at line {section.line} (a layer it does not know)")
            continue
        unread = [f"{key}={section.get(key)}" for key, unused in _PJREDDIE_IGNORES.get(section.kind, {}).items()
                  if section.get(key) is not None and not _means(section.get(key), unused)]
        activation = section.get("activation")
        if activation is not None and activation.lower() not in _PJREDDIE_ACTIVATIONS:
            unread.append(f"activation={activation}")
        if unread:
            problems.append(f"[{section.kind}] at line {section.line} ({' '.join(unread)})")
    return problems


def _means(value: str, number: float) -> bool:
    try:
        return float(value) == number
    except ValueError:
        return False


def input_size(sections: list[Section]) -> tuple[int, int]:
    net = sections[0]
    return net.int("width", 416), net.int("height", 416)


def output_classes(sections: list[Section]) -> set[int]:
    return {s.int("classes", 80) for s in sections if s.kind in ("yolo", "region")}


@dataclass(frozen=True)
class ConvSpec:
    """Shape of one [convolutional] layer, as stored in a weights file."""

    layer: int
    filters: int
    channels: int  # input channels each filter sees (all of them unless groups=)
    size: int
    batch_normalize: bool

    @property
    def n_weights(self) -> int:
        return self.filters * self.channels * self.size * self.size

    @property
    def n_floats(self) -> int:
        """Biases (or batch-norm beta), then scales, rolling mean and variance with
        batch_normalize, then the weights."""
        return self.filters * (4 if self.batch_normalize else 1) + self.n_weights


def conv_specs(sections: list[Section], path: str | os.PathLike = "cfg") -> list[ConvSpec]:
    """Every [convolutional] layer, in file order, with its weight shapes."""
    outs = layer_output_channels(sections, path)
    specs = []
    for index, section in enumerate(sections[1:]):
        if section.kind not in ("convolutional", "conv"):
            continue
        c_in = outs[index - 1] if index else sections[0].int("channels", 3)
        specs.append(ConvSpec(index, section.int("filters", 1), c_in // section.int("groups", 1),
                              section.int("size", 1), bool(section.int("batch_normalize", 0))))
    return specs
