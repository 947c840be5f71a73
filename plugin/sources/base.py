"""What every source provides, and the health record the runner reports for it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..domain import Frame

FrameSink = Callable[[Frame], None]
FPS_WINDOW_S = 10.0   # gunwatch_source_fps: frames handed over in this many seconds, per second


@dataclass
class SourceStatus:
    """Live health of one source, for logs, `doctor` and metrics."""

    name: str
    state: str = "starting"          # starting | running | retrying | restarting | stopped
    last_error: str | None = None
    frames: int = 0
    errors: int = 0
    restarts: int = 0                # times the runner restarted the source after it crashed
    fps: float = 0.0                 # frames handed to the pipeline per second, last FPS_WINDOW_S
    lag_s: float = 0.0               # age of the newest frame when handed over
    _window: list[float] = field(default_factory=list, repr=False)

    def frame(self, captured_at: float) -> None:
        now = time.time()
        self.frames += 1
        self.state, self.lag_s = "running", max(0.0, now - captured_at)
        self._window = [t for t in self._window if now - t < FPS_WINDOW_S] + [now]
        # Over the whole window, not the span of the frames in it: four pictures handed over
        # within 15 ms are 0.4 per second over 10 s, not 274.
        self.fps = len(self._window) / FPS_WINDOW_S

    def failed(self, error: str) -> None:
        self.errors += 1
        self.state, self.last_error = "retrying", error

    def crashed(self, error: str) -> None:
        self.errors += 1
        self.restarts += 1
        self.state, self.last_error = "restarting", error


class Source(Protocol):
    name: str
    status: SourceStatus
    # "latest": only the newest frame of a camera matters (live streams, where a backlog is
    # stale by the time it is analysed); "queue": every frame is one recorder event and must be
    # analysed (snapshot folders, recorder events).
    delivery: str

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        """Produce frames until `stop` is set; retry on failure, never raise for a lost input."""


def backoff_delays(start: float = 1.0, cap: float = 60.0):
    """1, 2, 4, ... seconds up to `cap`: how long a source waits before retrying."""
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * 2)
