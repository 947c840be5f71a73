"""Snapshot folders: Motion, Blue Iris, Synology, Shinobi and most IP cameras' FTP uploads.

Every new picture file is one recorder event: all of them are analysed (delivery "queue").
A file is handed over only once it is complete: its size has not changed for `settle_s` and,
for JPEG and PNG, it ends with the format's end marker (cameras upload over FTP, and a
half-written JPEG decodes as a picture with a grey bottom half).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..schema import GunwatchModel
from ..decode import decode_for_detection
from ..domain import Frame
from ..model import InputSpec
from ..registry import register
from .base import FrameSink, SourceStatus, backoff_delays

log = logging.getLogger(__name__)


class FolderSourceConfig(GunwatchModel):
    type: Literal["folder"]
    paths: list[Path] = Field(min_length=1, description="folders to watch")
    camera: str | None = Field(None, description="camera name for every file (default: see camera_from)")
    camera_from: Literal["subfolder", "folder"] = Field(
        "subfolder", description="without `camera`: name the camera after the first sub-folder "
        "below the watched folder (Motion, Synology) or after the watched folder itself")
    patterns: list[str] = Field(["*.jpg", "*.jpeg", "*.png"], description="file name patterns")
    recursive: bool = True
    settle_s: float = Field(0.3, ge=0, description="a file must keep its size this long before it is read")
    after: Literal["keep", "delete", "move"] = Field("keep", description="what to do with an analysed file")
    move_to: Path | None = Field(None, description="with after: move, where to")
    snapshot_only: bool = Field(True, description="each file is a separate event (single-frame "
                                "confirmation at the higher threshold); false for folders that "
                                "receive a sequence of frames from one camera")


def file_complete(path: Path) -> bool:
    """True when a JPEG/PNG has its end marker; other formats are trusted once stable."""
    suffix = path.suffix.lower()
    marker = {".jpg": b"\xff\xd9", ".jpeg": b"\xff\xd9", ".png": b"IEND\xaeB`\x82"}.get(suffix)
    if marker is None:
        return True
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64))
            return marker in fh.read()  # JPEGs may carry a few padding bytes after EOI
    except OSError:
        return False


class _Collector(FileSystemEventHandler):
    def __init__(self, source: FolderSource):
        self.source = source

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.noticed(Path(event.src_path))

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.noticed(Path(event.src_path))

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.noticed(Path(event.dest_path))


@register("source", "folder")
class FolderSource:
    delivery = "queue"
    Config = FolderSourceConfig

    def __init__(self, config: FolderSourceConfig, spec: InputSpec):
        self.config, self.spec = config, spec
        self.name = "folder:" + ",".join(str(p) for p in config.paths)
        self.status = SourceStatus(self.name)
        self._pending: dict[Path, tuple[int, float]] = {}  # path -> (size, when it last changed)
        self._lock = threading.Lock()

    def noticed(self, path: Path) -> None:
        if not any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in self.config.patterns):
            return
        with self._lock:
            self._pending.setdefault(path, (-1, time.monotonic()))

    def camera_for(self, path: Path, root: Path) -> str:
        if self.config.camera:
            return self.config.camera
        relative = path.relative_to(root)
        if self.config.camera_from == "subfolder" and len(relative.parts) > 1:
            return relative.parts[0]
        return root.name

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        delays = backoff_delays()
        while not stop.is_set():
            missing = [p for p in self.config.paths if not p.is_dir()]
            if missing:
                self.status.failed(f"folder missing: {', '.join(map(str, missing))}")
                log.warning("source=%s folder missing: %s; retrying", self.name, missing)
                stop.wait(next(delays))
                continue
            observer = Observer()
            for root in self.config.paths:
                observer.schedule(_Collector(self), str(root), recursive=self.config.recursive)
            observer.start()
            self.status.state = "running"
            log.info("source=%s watching", self.name)
            try:
                while not stop.is_set() and all(p.is_dir() for p in self.config.paths):
                    self._hand_over_settled(sink)
                    stop.wait(0.05)
            finally:
                observer.stop()
                observer.join(timeout=5)
            delays = backoff_delays()

    def _hand_over_settled(self, sink: FrameSink) -> None:
        now = time.monotonic()
        ready = []
        with self._lock:
            for path, (size, since) in list(self._pending.items()):
                try:
                    current = path.stat().st_size
                except FileNotFoundError:
                    del self._pending[path]  # deleted or rotated away before we got to it
                    continue
                if current != size:
                    self._pending[path] = (current, now)
                elif now - since >= self.config.settle_s and current > 0 and file_complete(path):
                    ready.append(path)
                    del self._pending[path]
        for path in sorted(ready, key=lambda p: p.stat().st_mtime if p.exists() else 0):
            self._hand_over(path, sink)

    def _hand_over(self, path: Path, sink: FrameSink) -> None:
        root = next(r for r in self.config.paths if path.is_relative_to(r))
        try:
            data = path.read_bytes()
            written_at = path.stat().st_mtime
        except OSError as exc:
            log.warning("source=%s cannot read %s: %s", self.name, path, exc.strerror)
            return
        image, sx, sy = decode_for_detection(data, self.spec)
        if image is None:
            self.status.errors += 1
            log.warning("source=%s skipped %s: not a readable image (corrupt or unsupported)",
                        self.name, path)
            return
        self.status.frame(written_at)
        sink(Frame(camera=self.camera_for(path, root), image=image, at=written_at, origin=str(path),
                   scale=(sx, sy), single_frame=self.config.snapshot_only,
                   ack=lambda: self._after(path)))

    def _after(self, path: Path) -> None:
        if self.config.after == "keep":
            return
        try:
            if self.config.after == "delete":
                path.unlink()
            elif self.config.after == "move" and self.config.move_to:
                self.config.move_to.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), self.config.move_to / path.name)
        except OSError as exc:
            log.warning("source=%s cannot %s %s: %s", self.name, self.config.after, path, exc.strerror)
