"""`gunwatch zm-hook` checks its arguments against ZoneMinder before it writes anything: the
event must belong to the monitor given, and EVENT_PATH must be that event's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.cli.zm_hook import checked_event, checked_event_path
from gunwatch.errors import ConfigError, SourceError


class FakeClient:
    portal = "http://zm/zm"

    def __init__(self, events: dict[int, dict]):
        self.events = events

    def event(self, event_id: int) -> dict | None:
        return {"Event": self.events[event_id]} if event_id in self.events else None


def test_event_must_belong_to_the_monitor():
    client = FakeClient({7: {"Id": "7", "MonitorId": "2"}})
    assert checked_event(client, 7, 2)["Id"] == "7"
    with pytest.raises(ConfigError, match="event 7 belongs to monitor 2, not 3"):
        checked_event(client, 7, 3)
    with pytest.raises(SourceError, match="event 8 does not exist"):
        checked_event(client, 8, 2)


def test_event_path_must_be_the_events_folder(tmp_path):
    events_dir = tmp_path / "events"
    folder = events_dir / "2" / "2026-12-05" / "7"
    folder.mkdir(parents=True)
    event = {"Id": "7", "MonitorId": "2", "FileSystemPath": str(folder)}
    assert checked_event_path(folder, event, events_dir) == folder.resolve()
    other_storage = tmp_path / "storage2" / "2" / "7"  # a second ZoneMinder storage area
    assert checked_event_path(other_storage, {**event, "FileSystemPath": str(other_storage)},
                              events_dir) == other_storage.resolve()
    for hostile in (Path("/etc"), events_dir / ".." / ".." / "etc", tmp_path / "elsewhere"):
        with pytest.raises(ConfigError, match="EVENT_PATH .* is neither event 7's folder nor inside events_dir"):
            checked_event_path(hostile, event, events_dir)


def test_event_path_through_a_link_out_of_the_events_folder(tmp_path):
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    (events_dir / "7").symlink_to("/etc")
    with pytest.raises(ConfigError, match="EVENT_PATH"):
        checked_event_path(events_dir / "7", {"Id": "7", "MonitorId": "2"}, events_dir)
