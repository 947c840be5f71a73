"""Read and write the arrays of darknet .weights files with numpy (no torch needed). The header
and the size rule are gunwatch.darknet.weights's, shared with the plugin's model check."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...darknet.weights import WeightsError, WeightsHeader, expected_size, read_header
from .darknet_cfg import ConvSpec


@dataclass
class ConvWeights:
    """Arrays of one [convolutional] layer. ``scales/mean/var`` are None without batch_normalize."""

    biases: np.ndarray
    weights: np.ndarray  # (filters, channels, size, size)
    scales: np.ndarray | None = None
    rolling_mean: np.ndarray | None = None
    rolling_var: np.ndarray | None = None

    @property
    def batch_normalize(self) -> bool:
        return self.scales is not None


@dataclass
class DarknetWeights:
    header: WeightsHeader = field(default_factory=WeightsHeader)
    layers: dict[int, ConvWeights] = field(default_factory=dict)  # darknet layer index -> arrays


def read_weights(path: str | Path, specs: list[ConvSpec], upto: int | None = None,
                 strict: bool = True) -> DarknetWeights:
    """Read the arrays of every conv layer in ``specs`` (those with layer < upto if given).

    With ``strict`` the file must hold exactly the cfg's weights (a wrong cfg would otherwise
    misread silently, as darknet itself does).
    """
    buf = Path(path).read_bytes()
    header = read_header(buf, path)
    off = header.size
    out = DarknetWeights(header)
    total = len(buf)
    need = expected_size(specs, header)
    if strict and upto is None and need != total:
        raise WeightsError(
            f"{path}: {total} bytes, but the cfg's {len(specs)} conv layers need {need} bytes;"
            " is this the cfg these weights were trained with?")

    def take(n: int) -> np.ndarray:
        nonlocal off
        if off + 4 * n > total:
            raise WeightsError(f"{path}: file ends at byte {total}, needed {off + 4 * n}")
        arr = np.frombuffer(buf, dtype="<f4", count=n, offset=off).copy()
        off += 4 * n
        return arr

    for s in specs:
        if upto is not None and s.layer >= upto:
            break
        biases = take(s.filters)
        scales = mean = var = None
        if s.batch_normalize:
            scales, mean, var = take(s.filters), take(s.filters), take(s.filters)
        w = take(s.n_weights).reshape(s.filters, s.channels, s.size, s.size)
        out.layers[s.layer] = ConvWeights(biases, w, scales, mean, var)
    return out


def write_weights(path: str | Path, weights: DarknetWeights, specs: list[ConvSpec]) -> None:
    """Write a darknet weights file (format 0.2: 64-bit ``seen``) in the cfg's layer order."""
    parts = [weights.header.pack()]
    for s in specs:
        lw = weights.layers.get(s.layer)
        if lw is None:
            raise WeightsError(f"layer {s.layer}: no arrays to write")
        if lw.weights.size != s.n_weights or lw.biases.size != s.filters:
            raise WeightsError(
                f"layer {s.layer}: arrays {lw.weights.shape} do not fit the cfg "
                f"({s.filters}x{s.channels}x{s.size}x{s.size})")
        if lw.batch_normalize != s.batch_normalize:
            raise WeightsError(f"layer {s.layer}: batch_normalize differs from the cfg")
        arrays = [lw.biases]
        if s.batch_normalize:
            arrays += [lw.scales, lw.rolling_mean, lw.rolling_var]
        arrays.append(lw.weights)
        parts.extend(np.ascontiguousarray(a, dtype="<f4").tobytes() for a in arrays)
    tmp = Path(str(path) + ".tmp")
    tmp.write_bytes(b"".join(parts))
    tmp.replace(path)
