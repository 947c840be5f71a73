"""Run a training engine as a child process: its output into a log, each batch to a callback
and a progress line, and Ctrl-C/SIGTERM turned into a clean stop between weight saves."""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from .darknet_cli import OPEN_ERROR_RE, SAVING_RE, Iteration

SAVE_WAIT_S = 300.0  # longest we let darknet finish a weights file before stopping it


class TrainBar:
    """One status line: a bar on a terminal (redrawn), else a plain line every ``every_s``."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 tty: bool | None = None, every_s: float = 30.0) -> None:
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every_s = every_s
        self.first: tuple[int, float] | None = None
        self._last_print = -math.inf  # the first batch is always shown
        self.drawn = False

    def eta_s(self, iteration: int, now: float) -> float | None:
        """Remaining time at this session's wall-clock pace (data loading included)."""
        if self.first is None or iteration <= self.first[0]:
            return None
        per_it = (now - self.first[1]) / (iteration - self.first[0])
        return per_it * max(self.total - iteration, 0)

    def line(self, it: Iteration, now: float) -> str:
        eta = self.eta_s(it.iteration, now)
        eta_txt = "--" if eta is None else f"{int(eta // 3600)}h{int(eta % 3600 // 60):02d}m{int(eta % 60):02d}s"
        frac = min(it.iteration / self.total, 1.0) if self.total else 0.0
        bar = "#" * int(frac * 24)
        return (f"{self.label} [{bar:<24}] {it.iteration}/{self.total} loss {it.loss:.3f} "
                f"avg {it.avg_loss:.3f} {it.seconds:.2f} s/it ETA {eta_txt}")

    def update(self, it: Iteration) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = (it.iteration, now)
        last = it.iteration >= self.total
        if self.tty:
            self.stream.write("\r" + self.line(it, now)[:118].ljust(118))
            self.drawn = True
        elif now - self._last_print >= self.every_s or last:
            self.stream.write(self.line(it, now) + "\n")
            self._last_print = now
        self.stream.flush()

    def message(self, text: str) -> None:
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class StopRequest:
    """SIGINT/SIGTERM set a flag instead of killing us, so the engine is stopped cleanly."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():  # signals reach only that one
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if gunwatch itself dies (Linux), so no orphan keeps training."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class EngineOutcome:
    returncode: int
    last_iteration: int | None
    open_errors: list[str]
    interrupted: bool


def drive(argv: list[str], cwd: Path, log_path: Path,
          on_iteration: Callable[[Iteration], None],
          parse: Callable[[str], Iteration | None], stop: StopRequest) -> EngineOutcome:
    """Run an engine under a pseudo-terminal (darknet's printf is only line-buffered on a
    terminal; through a pipe its progress would arrive in 4 KiB lumps), copy everything it
    prints into the log, report each batch, and on a stop request end it between weight saves.
    An engine that cannot start raises OSError."""
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                                start_new_session=True, preexec_fn=_die_with_parent)
    except OSError:
        os.close(master)
        raise
    finally:  # the child holds its own copy; ours would keep the terminal open after it exits
        os.close(slave)
    pending_save: Path | None = None
    save_started = 0.0
    errors: list[str] = []
    last: int | None = None
    interrupted = False
    buf = b""
    with open(log_path, "ab") as log:
        while True:
            if stop.requested and not interrupted:
                waited = time.monotonic() - save_started
                if pending_save is None or waited > SAVE_WAIT_S:
                    proc.send_signal(signal.SIGTERM)
                    interrupted = True
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None and pending_save is None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            log.write(chunk)
            log.flush()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if pending_save is not None:  # any later line means the save is complete
                    pending_save = None
                m = SAVING_RE.match(line)
                if m:
                    pending_save, save_started = Path(m.group(1)), time.monotonic()
                    continue
                m = OPEN_ERROR_RE.match(line)
                if m:
                    errors.append(m.group(1))
                    continue
                it = parse(line)
                if it is not None:
                    last = it.iteration
                    on_iteration(it)
    os.close(master)
    return EngineOutcome(proc.wait(), last, errors, interrupted)
