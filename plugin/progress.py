"""A dependency-free progress bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int | None, label: str, stream=None, enabled: bool | None = None):
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = self._last = time.monotonic()

    def advance(self, step: int = 1, note: str = "") -> None:
        self.done += step
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.done != self.total):
            return
        self._last = now
        rate = self.done / max(now - self.started, 1e-9)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (self.total - self.done) / rate if rate else 0
            line = f"{self.label} [{bar:<30}] {self.done}/{self.total} {rate:.1f}/s ETA {eta:.0f}s {note}"
        else:
            line = f"{self.label} {self.done} {rate:.1f}/s {note}"
        self.stream.write("\r" + line[:120].ljust(120))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
