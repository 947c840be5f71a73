"""Read darknet .cfg files and check a weights file against them before darknet sees either.

darknet's parsers call exit() on a missing file or unknown section, and pjreddie's loader reads
weights of the wrong shape without complaint (80-class COCO weights into a 1-class cfg give
garbage boxes). Checking sizes here turns both into a clear error that names the file.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

LAYER_TYPES_WITHOUT_WEIGHTS = {
    "maxpool", "route", "upsample", "shortcut", "yolo", "region", "dropout", "avgpool",
    "softmax", "cost", "reorg", "reorg3d", "sam", "scale_channels",
}


@dataclass
class Section:
    kind: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def int(self, key: str, default: int) -> int:
        return int(self.options.get(key, default))


def read_cfg(path: str | os.PathLike) -> list[Section]:
    sections: list[Section] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read model cfg ({exc.strerror})") from exc
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise ConfigError(f"{path}:{number}: malformed section header {raw.strip()!r}")
            sections.append(Section(line[1:-1].strip().lower(), line=number))
        elif "=" in line:
            if not sections:
                raise ConfigError(f"{path}:{number}: option before the first [section]")
            key, value = line.split("=", 1)
            sections[-1].options[key.strip()] = value.strip()
        else:
            raise ConfigError(f"{path}:{number}: expected `key=value`, got {raw.strip()!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise ConfigError(f"{path}: a darknet cfg must start with a [net] section")
    return sections


def input_size(sections: list[Section]) -> tuple[int, int]:
    net = sections[0]
    return net.int("width", 416), net.int("height", 416)


def output_classes(sections: list[Section]) -> set[int]:
    return {s.int("classes", 80) for s in sections if s.kind in ("yolo", "region")}


def expected_weight_floats(sections: list[Section], path: str | os.PathLike = "cfg") -> int:
    """Number of float32 values a weights file must hold for this cfg (after its header)."""
    channels = [sections[0].int("channels", 3)]
    out_channels: list[int] = []  # per layer, to resolve routes
    total = 0
    for layer_index, section in enumerate(sections[1:]):
        c_in = channels[-1]
        if section.kind in ("convolutional", "conv"):
            filters = section.int("filters", 1)
            size = section.int("size", 1)
            groups = section.int("groups", 1)
            total += filters  # biases (or batch-norm beta)
            if section.int("batch_normalize", 0):
                total += 3 * filters  # scales, rolling mean, rolling variance
            total += filters * (c_in // groups) * size * size
            c_out = filters
        elif section.kind == "route":
            refs = [int(v) for v in section.options["layers"].split(",")]
            idx = [r if r >= 0 else layer_index + r for r in refs]
            c_out = sum(out_channels[i] for i in idx) // section.int("groups", 1)
        elif section.kind in ("connected", "local", "rnn", "lstm", "gru", "crnn", "deconvolutional"):
            raise ConfigError(f"{path}:{section.line}: [{section.kind}] layers are not supported "
                              "by gunwatch's model check; use a YOLO detection cfg")
        elif section.kind in LAYER_TYPES_WITHOUT_WEIGHTS:
            c_out = c_in
        else:
            raise ConfigError(f"{path}:{section.line}: unknown darknet layer [{section.kind}]")
        out_channels.append(c_out)
        channels.append(c_out)
    return total


def weights_header_size(path: str | os.PathLike) -> int:
    """Bytes of the weights header: major, minor, revision (int32) then `seen` (64 or 32 bit)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12:
        raise ConfigError(f"{path}: too short to be a darknet weights file")
    major, minor, _revision = struct.unpack("<3i", head)
    return 12 + (8 if major * 10 + minor >= 2 else 4)


def check_weights(cfg: str | os.PathLike, weights: str | os.PathLike) -> None:
    """Raise ConfigError unless `weights` holds exactly the parameters `cfg` declares."""
    sections = read_cfg(cfg)
    try:
        size = Path(weights).stat().st_size
    except OSError as exc:
        raise ConfigError(f"{weights}: cannot read weights ({exc.strerror})") from exc
    expected = expected_weight_floats(sections, cfg)
    found = (size - weights_header_size(weights)) / 4
    if found != expected:
        raise ConfigError(
            f"{weights}: holds {found:.0f} parameters but {cfg} needs {expected}; the weights "
            "belong to another cfg (different classes or layers?). Use the cfg the weights "
            "were trained with.")
