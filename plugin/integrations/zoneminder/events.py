"""The record of the ZoneMinder events being followed, shared by the source (which fills it) and
the write-back (which reads it and marks events with a gun), so that neither holds the other."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class _Event:
    monitor_id: int
    folder: Path | None
    gun: bool = False
    frames: dict[str, bytes] = field(default_factory=dict)   # frame key -> JPEG as ZoneMinder wrote it


class FollowedEvents:
    def __init__(self) -> None:
        self._events: dict[int, _Event] = {}
        self._lock = threading.Lock()
        self.on_gun: Callable[[int], None] = lambda event_id: None

    # ------------------------------------------------------------ the source's side
    def follow(self, event_id: int, monitor_id: int, folder: Path | None) -> None:
        with self._lock:
            self._events.setdefault(event_id, _Event(monitor_id, folder))

    def found_folder(self, event_id: int, folder: Path) -> None:
        with self._lock:
            if event_id in self._events:
                self._events[event_id].folder = folder

    def keep_frame(self, event_id: int, key: str, jpeg: bytes) -> None:
        """A frame handed to the pipeline: its JPEG is kept until the pipeline is done with it,
        for objdetect.jpg."""
        with self._lock:
            if event_id in self._events:
                self._events[event_id].frames[key] = jpeg

    def forget_frame(self, event_id: int, key: str) -> None:
        with self._lock:
            if event_id in self._events:
                self._events[event_id].frames.pop(key, None)

    def drop(self, event_id: int) -> None:
        with self._lock:
            self._events.pop(event_id, None)

    def has_gun(self, event_id: int) -> bool:
        with self._lock:
            event = self._events.get(event_id)
            return bool(event and event.gun)

    # ------------------------------------------------------------ the write-back's side
    def frame(self, event_id: int, key: str) -> bytes | None:
        with self._lock:
            event = self._events.get(event_id)
            return event.frames.get(key) if event else None

    def where(self, event_id: int) -> tuple[int, Path | None] | None:
        """(monitor id, event folder) of an event still followed."""
        with self._lock:
            event = self._events.get(event_id)
            return (event.monitor_id, event.folder) if event else None

    def gun_found(self, event_id: int) -> None:
        """A confirmed gun was written back for this event: the source need look no further."""
        with self._lock:
            event = self._events.get(event_id)
            if event:
                event.gun = True
        self.on_gun(event_id)
