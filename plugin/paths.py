"""Where gunwatch keeps small files of its own, and where an admin finds its example config."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("GUNWATCH_CACHE_DIR"):
        return Path(os.environ["GUNWATCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gunwatch"


INSTALLED_EXAMPLE = Path("/opt/gunwatch/gunwatch.example.yml")   # install.sh puts it there


def example_config() -> str:
    """Where the admin reading an error finds the commented example config: install.sh's copy,
    else the checkout's (a pip install without install.sh has neither)."""
    checkout = Path(__file__).resolve().parents[1] / "install" / "gunwatch.example.yml"
    for candidate in (INSTALLED_EXAMPLE, checkout):
        if candidate.is_file():
            return str(candidate)
    return "install/gunwatch.example.yml in the gunwatch sources"
