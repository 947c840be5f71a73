"""The CPU this runs on, named the way figures need it: a speed measured on one CPU does not
carry to another (this project's machines are either an Intel with AVX-512 BF16 and AMX or an
AVX2-only AMD EPYC, and torch and OpenCV pick different kernels on each), so benchmarks print
it and cached speed races are keyed by it."""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The instruction sets that change which kernels OpenCV, oneDNN and PyTorch run.
FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def _cpuinfo(path: Path) -> tuple[str, set[str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "", set()
    model, flags = "", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def describe_cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """'AMD EPYC (avx2), 2 CPUs': model name, the FEATURES it has, and the CPU count."""
    model, flags = _cpuinfo(cpuinfo)
    features = [f for f in FEATURES if f in flags]
    name = model or platform.processor() or platform.machine()
    return f"{name} ({', '.join(features) or 'none of ' + '/'.join(FEATURES)}), {os.cpu_count()} CPUs"
