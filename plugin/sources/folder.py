"""Snapshot folders: Motion, Blue Iris, Synology, Shinobi and most IP cameras' FTP uploads.

Every new picture file is one recorder event: all of them are analysed (delivery "queue").
A file is handed over only once it is complete: its size has not changed for `settle_s` and,
for JPEG and PNG, it ends with the format's end marker (cameras upload over FTP, and a
half-written JPEG decodes as a picture with a grey bottom half). A file that never becomes a
readable picture (a text file named .jpg, an empty upload, a picture refused by its size) is
logged once and set aside.

The journal (folder_journal.py) remembers what was analysed: on every start the folders are
listed, and each picture written while gunwatch was down, or handed over but not acknowledged
before a crash, is analysed then, exactly once.
"""

from __future__ import annotations

import errno
import fnmatch
import logging
import os
import shutil
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import Field
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ..decode import DEFAULT_MAX_PIXELS, ImageRefused, decode_for_detection, read_picture
from ..domain import Frame
from ..errors import SourceError
from ..model import InputSpec
from ..registry import register
from ..schema import GunwatchModel
from ..checks import Checker
from ..untrusted import log_field, printable
from .base import FrameSink, SourceStatus, backoff_delays
from .folder_journal import FolderJournal, Identity

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
    give_up_s: float = Field(60.0, gt=0, description="a file that is still not a complete picture "
                             "(no end marker, empty) this long after its last change is logged "
                             "once and set aside")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="largest picture decoded, in "
                            "pixels (checked from the JPEG/PNG header before decoding); larger "
                            "ones are logged and set aside")
    journal: Path | None = Field(None, description="SQLite file that remembers which pictures were "
                                 "analysed, so that pictures written while gunwatch was down are "
                                 "analysed after a restart, exactly once (in a config file the "
                                 "default is <state_dir>/folder-journal.sqlite; null: none, "
                                 "pictures written while gunwatch is down are not analysed)")


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


def check_folder_source(doctor: Checker, name: str, source: FolderSourceConfig) -> None:
    for path in source.paths:
        need = os.R_OK | os.X_OK | (os.W_OK if source.after != "keep" else 0)
        if not path.is_dir():
            doctor.add(name, "FAIL", f"{path} is not a folder", f"create it or fix the path in {name}.paths")
        elif not os.access(path, need):
            what = "read" + (" and change" if need & os.W_OK else "")
            doctor.add(name, "FAIL", f"this user may not {what} {path}",
                       "add the gunwatch user to the folder's group (usermod -aG GROUP gunwatch) "
                       "or chmod it")
        else:
            doctor.add(name, "OK", f"{path} is readable")
    if source.after == "move" and source.move_to and not os.access(source.move_to, os.W_OK):
        doctor.add(name, "FAIL", f"move_to {source.move_to} is not writable", "create it writable for gunwatch")


@register("source", "folder")
class FolderSource:
    delivery = "queue"
    Config = FolderSourceConfig
    doctor_check = staticmethod(check_folder_source)

    def __init__(self, config: FolderSourceConfig, spec: InputSpec):
        self.config, self.spec = config, spec
        self.name = "folder:" + ",".join(str(p) for p in config.paths)
        self.status = SourceStatus(self.name)
        self.roots = [Path(os.path.abspath(p)) for p in config.paths]
        try:
            self.journal = FolderJournal(config.journal)
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"folder: cannot open journal {config.journal} ({exc}); set journal "
                              "to a writable path under state_dir") from exc
        # path -> (size, when it last changed); size -1 until first looked at
        self._pending: dict[Path, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wanted(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name.lower(), p.lower()) for p in self.config.patterns)

    def noticed(self, path: Path) -> None:
        if not self.wanted(path):
            return
        with self._lock:
            self._pending.setdefault(Path(os.path.abspath(path)), (-1, time.monotonic()))

    def camera_for(self, path: Path, root: Path) -> str:
        if self.config.camera:
            return self.config.camera
        relative = path.relative_to(root)
        # A folder name is whatever the uploader chose: no control character reaches a log line.
        if self.config.camera_from == "subfolder" and len(relative.parts) > 1:
            return printable(relative.parts[0])
        return printable(root.name)

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        delays = backoff_delays()
        while not stop.is_set():
            missing = [p for p in self.roots if not p.is_dir()]
            if missing:
                self.status.failed(f"folder missing: {', '.join(map(str, missing))}")
                log.warning("source=%s folder missing: %s; retrying", self.name, missing)
                stop.wait(next(delays))
                continue
            watch_from = time.time_ns()
            observer = Observer()
            for root in self.roots:
                observer.schedule(_Collector(self), str(root), recursive=self.config.recursive)
            observer.start()
            try:
                # After the watch is set: a picture written meanwhile is seen by one or both.
                self._catch_up(watch_from)
                self.status.state = "running"
                log.info("source=%s watching", self.name)
                while not stop.is_set() and all(p.is_dir() for p in self.roots):
                    self._hand_over_settled(sink)
                    stop.wait(0.05)
            finally:
                observer.stop()
                observer.join(timeout=5)
            delays = backoff_delays()
        self.status.state = "stopped"

    def _listing(self) -> dict[str, Identity]:
        """Every wanted file under the roots now, with its identity."""
        found: dict[str, Identity] = {}
        for root in self.roots:
            for folder, dirs, files in os.walk(root, onerror=lambda exc: None):
                if not self.config.recursive:
                    dirs.clear()
                for name in files:
                    path = os.path.join(folder, name)
                    if self.wanted(Path(name)):
                        identity = _identity(path)
                        found[path] = identity if identity else (-1, -1)
        return found

    def _catch_up(self, watch_from: int) -> None:
        listing = self._listing()
        if self.journal.first_start():
            # What was there before the watch began is the folder's archive; what arrived since
            # is new, and the watch has noticed it.
            archive = {p: i for p, i in listing.items() if i[1] < watch_from}
            self.journal.started(archive)
            log.info("source=%s journal started: %d pictures already there are not analysed",
                     self.name, len(archive))
            return
        self.journal.forget_missing(self.roots, set(listing))
        missed = [p for p, identity in listing.items() if self.journal.state(p, identity) is None]
        for path in sorted(missed, key=lambda p: listing[p][1]):
            self.noticed(Path(path))
        if missed:
            log.info("source=%s %d pictures written or not analysed while gunwatch was down: "
                     "analysing them", self.name, len(missed))

    def _hand_over_settled(self, sink: FrameSink) -> None:
        now = time.monotonic()
        ready: list[tuple[float, Path, Identity]] = []
        with self._lock:
            pending = list(self._pending.items())
        for path, (size, since) in pending:
            try:
                info = path.stat()
            except FileNotFoundError:
                self._drop(path)  # deleted or rotated away before we got to it
                continue
            except OSError as exc:
                self._set_aside(path, (-1, -1), _why(exc))
                continue
            if info.st_size != size:
                with self._lock:
                    self._pending[path] = (info.st_size, now)
                continue
            if now - since < self.config.settle_s:
                continue
            identity = (info.st_size, info.st_mtime_ns)
            if self.journal.state(str(path), identity) is not None:
                self._drop(path)  # noticed twice (watch and listing), or already dealt with
            elif not stat.S_ISREG(info.st_mode):
                self._set_aside(path, identity, "not a regular file (a FIFO, device or socket)")
            elif info.st_size > 0 and file_complete(path):
                self._drop(path)
                ready.append((info.st_mtime, path, identity))
            elif now - since >= self.config.give_up_s:
                what = "empty" if info.st_size == 0 else "no end marker"
                self._set_aside(path, identity, f"still not a complete picture ({what}) "
                                f"{self.config.give_up_s:.0f} s after its last change")
        for _, path, identity in sorted(ready):
            try:
                self._hand_over(path, identity, sink)
            except Exception as exc:  # one file must never end the source
                self.status.errors += 1
                log.exception("source=%s file=%s failed: %s", self.name, log_field(path), log_field(exc))

    def _drop(self, path: Path) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def _set_aside(self, path: Path, identity: Identity, why: str) -> None:
        """Log once and remember, so that neither this run nor the next retries it."""
        self._drop(path)
        self.status.errors += 1
        self.journal.record(str(path), identity, "aside", why)
        log.warning("source=%s file=%s set aside: %s", self.name, log_field(path), why)

    def _hand_over(self, path: Path, identity: Identity, sink: FrameSink) -> None:
        root = next(r for r in self.roots if path.is_relative_to(r))
        try:
            data = read_picture(path)
            image, sx, sy = decode_for_detection(data, self.spec, self.config.max_pixels)
        except FileNotFoundError:
            return
        except (OSError, ImageRefused) as exc:
            self._set_aside(path, identity, _why(exc))
            return
        if image is None:
            self._set_aside(path, identity, "not a readable image (corrupt or unsupported)")
            return
        written_at = identity[1] / 1e9
        self.status.frame(written_at)
        sink(Frame(camera=self.camera_for(path, root), image=image, at=written_at, origin=printable(str(path)),
                   scale=(sx, sy), single_frame=self.config.snapshot_only,
                   ack=lambda: self._analysed(path, identity)))

    def _analysed(self, path: Path, identity: Identity) -> None:
        self.journal.record(str(path), identity, "done")
        log.debug("source=%s file=%s analysed", self.name, log_field(path))
        self._after(path)

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
            log.warning("source=%s cannot %s %s: %s", self.name, self.config.after, log_field(path),
                        exc.strerror)


def _identity(path: str) -> Identity | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back at itself); remove or fix the link"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
