"""The darknet .weights layout: a header (version, then the count of images trained on), then
float32 arrays for each [convolutional] layer in cfg order. The one reader of that header and
the one rule for a file's size, for the plugin's model check and the training tools alike.

pjreddie's loader reads weights of the wrong shape without complaint (80-class COCO weights into
a 1-class cfg give garbage boxes), and a file cut short by a kill while it was written loads as
noise: comparing the size with the cfg's catches both.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .cfg import ConvSpec, Section, conv_specs, read_cfg


class WeightsError(ConfigError, ValueError):
    """A weights file that does not fit its cfg, or no weights file at all."""


@dataclass
class WeightsHeader:
    major: int = 0
    minor: int = 2
    revision: int = 0
    seen: int = 0

    @property
    def seen_is_64bit(self) -> bool:
        # darknet (parser.c load_weights): size_t `seen` from format 0.2 on
        return (self.major * 10 + self.minor) >= 2 and self.major < 1000 and self.minor < 1000

    @property
    def size(self) -> int:
        """Bytes of the header: three int32, then `seen` in 64 or 32 bits."""
        return 12 + (8 if self.seen_is_64bit else 4)

    def pack(self) -> bytes:
        return struct.pack("<3iQ" if self.seen_is_64bit else "<3iI",
                           self.major, self.minor, self.revision, self.seen)


def read_header(buf: bytes, source: str | os.PathLike = "weights") -> WeightsHeader:
    """The header at the start of ``buf`` (20 bytes are always enough)."""
    if len(buf) < 12:
        raise WeightsError(f"{source}: too short to be a darknet weights file")
    header = WeightsHeader(*struct.unpack_from("<3i", buf))
    if len(buf) < header.size:
        raise WeightsError(f"{source}: too short to be a darknet weights file")
    header.seen = struct.unpack_from("<Q" if header.seen_is_64bit else "<I", buf, 12)[0]
    return header


def read_header_file(path: str | os.PathLike) -> WeightsHeader:
    try:
        with open(path, "rb") as fh:
            return read_header(fh.read(20), path)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read weights ({exc.strerror})") from exc


def expected_floats(sections: list[Section], path: str | os.PathLike = "cfg") -> int:
    """Number of float32 values a weights file must hold for this cfg (after its header)."""
    return sum(spec.n_floats for spec in conv_specs(sections, path))


def expected_size(specs: list[ConvSpec], header: WeightsHeader | None = None) -> int:
    """Bytes of a whole weights file for these layers with this header."""
    return (header or WeightsHeader()).size + 4 * sum(spec.n_floats for spec in specs)


def is_complete(path: Path, specs: list[ConvSpec]) -> WeightsHeader | None:
    """The file's header when it holds exactly these layers' weights, else None (cut short,
    unreadable, or saved for another cfg)."""
    try:
        header = read_header_file(path)
        return header if path.stat().st_size == expected_size(specs, header) else None
    except (OSError, WeightsError):
        return None


def check_weights(cfg: str | os.PathLike, weights: str | os.PathLike,
                  sections: list[Section] | None = None) -> None:
    """Raise WeightsError (a ConfigError) unless `weights` holds exactly the parameters `cfg`
    declares (`sections`: that cfg already parsed)."""
    if sections is None:
        sections = read_cfg(cfg)
    try:
        size = Path(weights).stat().st_size
    except OSError as exc:
        raise WeightsError(f"{weights}: cannot read weights ({exc.strerror})") from exc
    expected = expected_floats(sections, cfg)
    found = (size - read_header_file(weights).size) / 4
    if found != expected:
        raise WeightsError(
            f"{weights}: holds {found:.0f} parameters but {cfg} needs {expected}; the weights "
            "belong to another cfg (different classes or layers?). Use the cfg the weights "
            "were trained with.")
