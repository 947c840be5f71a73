"""Parse, write and adapt darknet .cfg files (no torch needed)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable


@dataclass
class Section:
    """One ``[type]`` block of a darknet cfg with its options in file order."""

    type: str
    options: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def get_int(self, key: str, default: int) -> int:
        value = self.options.get(key)
        return default if value is None else int(value)

    def get_float(self, key: str, default: float) -> float:
        value = self.options.get(key)
        return default if value is None else float(value)

    def get_ints(self, key: str) -> list[int]:
        value = self.options.get(key, "")
        return [int(v) for v in value.split(",") if v.strip()]

    def get_floats(self, key: str) -> list[float]:
        value = self.options.get(key, "")
        return [float(v) for v in value.split(",") if v.strip()]


class CfgError(ValueError):
    """A cfg file that darknet would not accept, with file and line in the message."""


def parse_cfg_text(text: str, source: str = "<cfg>") -> list[Section]:
    """Parse cfg text the way darknet's read_cfg does (whitespace removed, '#'/';' comments)."""
    sections: list[Section] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = "".join(raw.split())  # darknet strips every whitespace character
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            if not line.endswith("]"):
                raise CfgError(f"{source}:{lineno}: unterminated section header {raw.strip()!r}")
            sections.append(Section(line[1:-1]))
            continue
        if "=" not in line:
            raise CfgError(f"{source}:{lineno}: expected key=value, got {raw.strip()!r}")
        if not sections:
            raise CfgError(f"{source}:{lineno}: option {raw.strip()!r} before any [section]")
        key, value = line.split("=", 1)
        sections[-1].options[key] = value
    if not sections or sections[0].type not in ("net", "network"):
        raise CfgError(f"{source}: the first section must be [net]")
    return sections


def read_cfg(path: str | Path) -> list[Section]:
    path = Path(path)
    return parse_cfg_text(path.read_text(), str(path))


def format_cfg(sections: Iterable[Section]) -> str:
    blocks = []
    for sec in sections:
        lines = [f"[{sec.type}]"] + [f"{k}={v}" for k, v in sec.options.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write_cfg(sections: Iterable[Section], path: str | Path) -> None:
    Path(path).write_text(format_cfg(sections))


def copy_sections(sections: Iterable[Section]) -> list[Section]:
    return [Section(s.type, dict(s.options)) for s in sections]


def layer_sections(sections: list[Section]) -> list[Section]:
    """The layer sections (everything after [net]); index i is darknet layer i."""
    return sections[1:]


@dataclass(frozen=True)
class ConvSpec:
    """Shape of one [convolutional] layer, as stored in a weights file."""

    layer: int
    filters: int
    channels: int
    size: int
    batch_normalize: bool

    @property
    def n_weights(self) -> int:
        return self.filters * self.channels * self.size * self.size


def _route_layers(sec: Section, index: int) -> list[int]:
    return [v if v >= 0 else index + v for v in sec.get_ints("layers")]


def layer_output_channels(sections: list[Section]) -> list[int]:
    """Output channel count of every layer (as darknet computes while building the net)."""
    net = sections[0]
    channels = net.get_int("channels", 3)
    out: list[int] = []
    for i, sec in enumerate(layer_sections(sections)):
        if sec.type in ("convolutional", "conv"):
            c = sec.get_int("filters", 1)
        elif sec.type in ("route",):
            c = sum(out[j] for j in _route_layers(sec, i))
        elif sec.type in ("shortcut",):
            c = out[i - 1]
        elif sec.type in ("maxpool", "max", "upsample", "yolo", "dropout"):
            c = out[i - 1] if i else channels
        else:
            raise CfgError(f"layer {i}: unsupported section [{sec.type}]")
        out.append(c)
    return out


def conv_specs(sections: list[Section]) -> list[ConvSpec]:
    """Every [convolutional] layer, in file order, with its weight shapes."""
    outs = layer_output_channels(sections)
    in_c = sections[0].get_int("channels", 3)
    specs = []
    for i, sec in enumerate(layer_sections(sections)):
        prev = outs[i - 1] if i else in_c
        if sec.type in ("convolutional", "conv"):
            specs.append(ConvSpec(i, sec.get_int("filters", 1), prev, sec.get_int("size", 1),
                                  bool(sec.get_int("batch_normalize", 0))))
    return specs


def yolo_layers(sections: list[Section]) -> list[int]:
    return [i for i, s in enumerate(layer_sections(sections)) if s.type == "yolo"]


def make_n_class_cfg(
    sections: list[Section],
    classes: int,
    *,
    batch: int = 64,
    subdivisions: int = 16,
    width: int = 416,
    height: int = 416,
    max_batches: int | None = None,
    learning_rate: float | None = None,
    burn_in: int | None = None,
) -> list[Section]:
    """Adapt a COCO cfg to ``classes`` classes.

    Sets classes=N in every [yolo], filters=(N+5)*len(mask) in the [convolutional] right before
    each [yolo], and the [net] training options. steps default to 80% and 90% of max_batches
    (darknet's usual recipe), and max_batches to max(2000 * classes, 6000).
    """
    if classes < 1:
        raise ValueError(f"classes must be >= 1 (got {classes})")
    out = copy_sections(sections)
    layers = layer_sections(out)
    for i, sec in enumerate(layers):
        if sec.type != "yolo":
            continue
        sec.options["classes"] = str(classes)
        prev = layers[i - 1] if i else None
        if prev is None or prev.type not in ("convolutional", "conv"):
            raise CfgError(f"layer {i}: [yolo] must follow a [convolutional]")
        n_mask = len(sec.get_ints("mask")) or sec.get_int("num", 1)
        prev.options["filters"] = str((classes + 5) * n_mask)
    net = out[0].options
    if max_batches is None:
        max_batches = max(2000 * classes, 6000)
    net.update({
        "batch": str(batch),
        "subdivisions": str(subdivisions),
        "width": str(width),
        "height": str(height),
        "max_batches": str(max_batches),
        "policy": "steps",
        "steps": f"{int(max_batches * 0.8)},{int(max_batches * 0.9)}",
        "scales": ".1,.1",
    })
    if learning_rate is not None:
        net["learning_rate"] = repr(learning_rate)
    if burn_in is not None:
        net["burn_in"] = str(burn_in)
    return out


def inference_cfg(sections: list[Section], width: int | None = None,
                  height: int | None = None) -> list[Section]:
    """Copy of the cfg with batch=1 subdivisions=1 (and optionally another input size)."""
    out = copy_sections(sections)
    net = out[0].options
    net["batch"] = "1"
    net["subdivisions"] = "1"
    if width is not None:
        net["width"] = str(width)
    if height is not None:
        net["height"] = str(height)
    return out
