"""The folder source against hostile and broken files, and its journal across restarts."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from gunwatch.model import InputSpec
from gunwatch.sources.folder import FolderSource, FolderSourceConfig

from ...support.hostile import encoded, png_bomb
from ...support.wait import wait_for
from .test_folder import Collected, jpeg_bytes


@pytest.fixture
def start(tmp_path):
    started = []

    def start(root: Path | None = None, **overrides):
        root = root or tmp_path / "snapshots"
        root.mkdir(exist_ok=True)
        config = FolderSourceConfig(type="folder", paths=[root], settle_s=0.1, **overrides)
        source, collected, stop = FolderSource(config, InputSpec()), Collected(), threading.Event()
        thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
        thread.start()
        started.append((stop, thread))
        wait_for(lambda: source.status.state == "running", 5, interval=0.02)
        return root, source, collected, (stop, thread)

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=5)


def stop_source(handle) -> None:
    stop, thread = handle
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_hostile_files_are_set_aside_once_and_the_source_goes_on(start, caplog):
    caplog.set_level(logging.WARNING, logger="gunwatch.sources.folder")
    root, source, collected, (_, thread) = start(give_up_s=1.0)
    (root / "wide.jpg").write_bytes(encoded(".jpg", 4000, 1))
    (root / "tall.png").write_bytes(encoded(".png", 1, 4000))
    (root / "bomb.png").write_bytes(png_bomb(30000, 30000))
    (root / "text.jpg").write_text("this is not a picture\n")
    (root / "empty.jpg").write_bytes(b"")
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    os.mkfifo(root / "pipe.jpg")
    (root / "good.jpg").write_bytes(jpeg_bytes(1))
    frames = collected.wait_for(1)
    assert [Path(f.origin).name for f in frames] == ["good.jpg"]
    hostile = ("wide.jpg", "tall.png", "bomb.png", "text.jpg", "empty.jpg", "loop.jpg", "pipe.jpg")
    wait_for(lambda: all(f"{n} set aside" in caplog.text for n in hostile), 10, interval=0.1)
    time.sleep(1.5)  # longer than give_up_s: nothing is logged twice
    lines = [r.getMessage() for r in caplog.records]
    for name in hostile:
        assert sum(f"/{name} set aside" in line for line in lines) == 1, (name, lines)
    assert "side under 2 pixels" in caplog.text and "max_pixels" in caplog.text
    assert "symbolic link loop" in caplog.text and "not a regular file" in caplog.text
    assert "no end marker" in caplog.text and "(empty)" in caplog.text
    (root / "after.jpg").write_bytes(jpeg_bytes(2))
    assert [Path(f.origin).name for f in collected.wait_for(2)] == ["good.jpg", "after.jpg"]
    assert thread.is_alive() and source.status.state == "running"


def test_camera_name_from_a_hostile_folder_name_cannot_forge_a_log_line(start):
    root, _, collected, _ = start()
    folder = root / "door\n2026-12-05 INFO all clear"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(3))
    frames = collected.wait_for(1)
    assert frames[0].camera == "door_2026-12-05 INFO all clear"
    assert "\n" not in frames[0].origin and frames[0].origin.endswith("door_2026-12-05 INFO all clear/a.jpg")


def test_journal_catches_up_on_restart_exactly_once(start, tmp_path):
    journal = tmp_path / "state" / "folder-journal.sqlite"
    archive = tmp_path / "snapshots"
    archive.mkdir()
    (archive / "old.jpg").write_bytes(jpeg_bytes(4))  # there before the first start: archive
    root, _, collected, handle = start(journal=journal)
    for i in range(4):
        (root / f"live-{i}.jpg").write_bytes(jpeg_bytes(10 + i))
    frames = collected.wait_for(4)
    assert sorted(Path(f.origin).name for f in frames) == [f"live-{i}.jpg" for i in range(4)]
    for f in frames[:2]:
        f.ack()  # analysed; the other two were still in the pipeline when it stopped
    stop_source(handle)
    for i in range(3):
        (root / f"down-{i}.jpg").write_bytes(jpeg_bytes(20 + i))  # written while gunwatch was down
    (root / "live-0.jpg").write_bytes(jpeg_bytes(30))  # a camera rewrote it: a new picture
    _, _, again, handle = start(journal=journal)
    names = sorted(Path(f.origin).name for f in again.wait_for(6))
    time.sleep(0.5)
    unacked = sorted(Path(f.origin).name for f in frames[2:])
    assert names == sorted(["down-0.jpg", "down-1.jpg", "down-2.jpg", "live-0.jpg"] + unacked)
    assert len(again.frames) == 6


def test_without_a_journal_a_restart_skips_what_is_there(start):
    root, _, collected, handle = start(journal=None)
    stop_source(handle)
    (root / "down.jpg").write_bytes(jpeg_bytes(5))
    _, _, again, _ = start(journal=None)
    time.sleep(0.5)
    (root / "new.jpg").write_bytes(jpeg_bytes(6))
    assert [Path(f.origin).name for f in again.wait_for(1)] == ["new.jpg"]
