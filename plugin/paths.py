"""Where gunwatch keeps small files of its own (caches now, state later)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("GUNWATCH_CACHE_DIR"):
        return Path(os.environ["GUNWATCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gunwatch"
