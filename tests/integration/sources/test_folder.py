"""The folder source against a real filesystem and watchdog: complete files only, bursts,
deletions, a removed folder, after-actions."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.model import InputSpec
from gunwatch.sources.folder import FolderSource, FolderSourceConfig, file_complete

from ...support.wait import wait_for


def jpeg_bytes(seed: int = 0, size=(480, 640)) -> bytes:
    image = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", image)[1].tobytes()


class Collected:
    def __init__(self):
        self.frames = []
        self.lock = threading.Lock()

    def __call__(self, frame):
        with self.lock:
            self.frames.append(frame)

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        """The frames collected once there are `count` (those there are after `timeout` s otherwise)."""
        wait_for(lambda: len(self.frames) >= count, timeout, interval=0.02)   # the shared helper
        with self.lock:
            return list(self.frames)


@pytest.fixture
def running(tmp_path):
    started = []

    def start(**overrides):
        root = tmp_path / "snapshots"
        root.mkdir(exist_ok=True)
        config = FolderSourceConfig(type="folder", paths=[root], settle_s=0.2, **overrides)
        source, collected, stop = FolderSource(config, InputSpec()), Collected(), threading.Event()
        thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
        thread.start()
        started.append((stop, thread))
        wait_for(lambda: source.status.state == "running", 5, interval=0.02)
        return root, source, collected

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=5)


def test_file_complete_markers(tmp_path):
    whole = tmp_path / "a.jpg"
    whole.write_bytes(jpeg_bytes())
    half = tmp_path / "b.jpg"
    half.write_bytes(jpeg_bytes()[:5000])
    assert file_complete(whole) and not file_complete(half)


def test_new_files_become_frames_with_camera_from_subfolder(running):
    root, source, collected = running()
    (root / "frontdoor").mkdir()
    (root / "frontdoor" / "1.jpg").write_bytes(jpeg_bytes(1))
    (root / "yard.jpg").write_bytes(jpeg_bytes(2))
    (root / "notes.txt").write_text("not a picture")
    frames = collected.wait_for(2)
    assert sorted(f.camera for f in frames) == ["frontdoor", "snapshots"]
    assert all(f.single_frame for f in frames)
    assert source.status.frames == 2


def test_file_written_slowly_is_read_only_when_complete(running):
    root, _, collected = running()
    data = jpeg_bytes(3)
    with open(root / "slow.jpg", "wb") as fh:
        for start in range(0, len(data), 4000):
            fh.write(data[start:start + 4000])
            fh.flush()
            time.sleep(0.1)  # an FTP upload in chunks, slower than settle_s between some writes
    frames = collected.wait_for(1)
    assert len(frames) == 1 and frames[0].image.shape[:2] == (480, 640)


def test_burst_of_files_all_delivered(running):
    root, _, collected = running()
    for i in range(40):
        (root / f"burst-{i:02d}.jpg").write_bytes(jpeg_bytes(i))
    frames = collected.wait_for(40, timeout=20)
    assert len({f.origin for f in frames}) == 40


def test_deleted_before_read_and_corrupt_are_skipped(running):
    root, source, collected = running()
    (root / "gone.jpg").write_bytes(jpeg_bytes(4))
    (root / "gone.jpg").unlink()
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8" + b"\x00" * 100 + b"\xff\xd9")
    (root / "ok.jpg").write_bytes(jpeg_bytes(5))
    collected.wait_for(1)
    time.sleep(0.5)
    assert [Path(f.origin).name for f in collected.frames] == ["ok.jpg"]
    assert source.status.errors == 1


def test_after_move_happens_on_ack(running, tmp_path):
    done = tmp_path / "done"
    root, _, collected = running(after="move", move_to=done)
    (root / "a.jpg").write_bytes(jpeg_bytes(6))
    frame = collected.wait_for(1)[0]
    assert (root / "a.jpg").exists()  # not before the pipeline is through with it
    frame.ack()
    assert (done / "a.jpg").exists() and not (root / "a.jpg").exists()


def test_removed_folder_is_retried_until_it_returns(running):
    root, source, collected = running()
    shutil.rmtree(root)
    wait_for(lambda: source.status.state == "retrying", 5)
    assert source.status.state == "retrying" and "folder missing" in source.status.last_error
    root.mkdir()
    wait_for(lambda: source.status.state == "running", 10)
    (root / "back.jpg").write_bytes(jpeg_bytes(7))
    assert [Path(f.origin).name for f in collected.wait_for(1)] == ["back.jpg"]


def test_overwritten_and_renamed_files_are_each_analysed(running):
    """Cameras that rewrite one `latest.jpg`, or write `x.tmp` then rename it, rotate files."""
    root, _, collected = running()
    for i in range(3):
        tmp = root / "latest.tmp"
        tmp.write_bytes(jpeg_bytes(20 + i))
        tmp.replace(root / "latest.jpg")  # atomic rename into place, as most uploaders do
        collected.wait_for(i + 1)
        time.sleep(0.3)
    frames = collected.wait_for(3)
    assert [Path(f.origin).name for f in frames] == ["latest.jpg"] * 3
    assert len({f.image.tobytes() for f in frames}) == 3  # three different pictures
