"""The record of the Frigate events being followed, shared by the source (which fills it from
MQTT) and the write-back (which finds there the event whose box holds the gun, and whether
someone else set its sub label), so that neither holds the other."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .home_assistant import HomeAssistant


@dataclass
class FollowedEvent:
    """What the latest events message said about an event gunwatch analyses."""

    camera: str
    since: float                         # time.monotonic() when gunwatch began following it
    box: list[float] | None              # x1, y1, x2, y2 in latest.jpg's pixels
    sub_label: str | None
    has_snapshot: bool
    has_clip: bool


class FollowedEvents:
    def __init__(self, home_assistant: HomeAssistant | None = None):
        # The source changes `by_id` under `lock` (with its own bookkeeping of expired events).
        self.lock = threading.Lock()
        self.by_id: dict[str, FollowedEvent] = {}
        # Home Assistant's gun sensors ride on the source's MQTT connection.
        self.home_assistant = home_assistant

    def followed(self, camera: str) -> dict[str, FollowedEvent]:
        """The camera's live events, newest last: the write-back picks the one holding the gun."""
        with self.lock:
            return {event_id: e for event_id, e in self.by_id.items() if e.camera == camera}

    def followed_event(self, event_id: str) -> FollowedEvent | None:
        with self.lock:
            return self.by_id.get(event_id)
