"""Write and adapt darknet .cfg files (no torch needed). Parsing and layer shapes are
gunwatch.darknet.cfg's, the one parser the plugin and the training tools share; its names are
re-exported here."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ...darknet.cfg import (CfgError, ConvSpec, Section, conv_specs, layer_output_channels, parse_cfg_text,
                            read_cfg)

__all__ = ["CfgError", "ConvSpec", "Section", "conv_specs", "copy_sections", "format_cfg",
           "inference_cfg", "layer_output_channels", "layer_sections", "make_n_class_cfg",
           "parse_cfg_text", "read_cfg", "write_cfg", "yolo_layers"]


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
        raise CfgError(f"classes must be >= 1 (got {classes})")
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
