"""A source that crashes is restarted with backoff and counted; /healthz says so."""

from __future__ import annotations

import os
import threading
import time

import pytest

from gunwatch.metrics import health
from gunwatch.pipeline.confirm import ConfirmSettings, Confirmer
from gunwatch.pipeline.runner import Runner
from gunwatch.sources.base import SourceStatus

from ...support.wait import wait_for


class CrashingSource:
    """Raises on its first `crashes` runs, then runs until stopped."""

    delivery = "queue"

    def __init__(self, name: str, crashes: int):
        self.name, self.crashes = name, crashes
        self.status = SourceStatus(name)
        self.runs = 0

    def run(self, sink, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.crashes:
            raise TypeError("unhashable type: 'list'")
        self.status.state = "running"
        stop.wait()


class NoDetector:
    name = "none"

    def detect(self, image):
        return []

    def close(self):
        pass


def runner(*sources) -> Runner:
    return Runner(list(sources), NoDetector(), Confirmer(ConfirmSettings()), [])


def test_crashed_source_is_restarted_and_counted(monkeypatch):
    monkeypatch.setattr("gunwatch.pipeline.runner.backoff_delays", lambda: iter([0.05, 0.1, 0.2]))
    flaky, steady = CrashingSource("flaky", crashes=2), CrashingSource("steady", crashes=0)
    r = runner(flaky, steady)
    r.start()
    try:
        assert wait_for(lambda: flaky.status.state == "running")
        assert flaky.runs == 3 and flaky.status.restarts == 2 and flaky.status.errors == 2
        assert "TypeError" in flaky.status.last_error
        assert health(r)[0]
    finally:
        r.stop()


def test_healthz_reports_a_restarting_source(monkeypatch):
    monkeypatch.setattr("gunwatch.pipeline.runner.backoff_delays", lambda: iter([30.0]))
    broken = CrashingSource("broken", crashes=5)
    r = runner(broken)
    r.start()
    try:
        assert wait_for(lambda: broken.status.restarts == 1)
        ok, text = health(r)
        assert not ok and "broken: restarting (TypeError: unhashable type: 'list', restarted 1 times)" in text
    finally:
        r.stop()


def test_healthz_reports_a_dead_source_thread():
    source = CrashingSource("gone", crashes=0)
    r = runner(source)
    source.status.state = "running"   # it said so, then its thread went away
    ok, text = health(r)
    assert not ok and "gone: thread not running" in text


def test_snapshot_file_name_of_a_hostile_camera_stays_in_the_snapshot_folder(tmp_path):
    import numpy as np

    from gunwatch.domain import BBox, Confirmation, Frame, Incident

    r = Runner([], NoDetector(), Confirmer(ConfirmSettings()), [], snapshot_dir=tmp_path / "snaps")
    camera = "../../" + "x" * 5000
    incident = Incident(id=f"{camera}:1:1", camera=camera, started_at=0.0, label="gun",
                        confidence=0.9, box=BBox(1, 1, 2, 2))
    frame = Frame(camera=camera, image=np.zeros((8, 8, 3), np.uint8), at=0.0)
    written = r._with_snapshot(frame, Confirmation("opened", incident)).incident.snapshot
    assert written and os.path.dirname(written) == str(tmp_path / "snaps")


def test_source_fps_is_a_rate_over_its_window_not_over_a_burst():
    # Four pictures handed over within milliseconds read 274 fps before (issue 26).
    from gunwatch.sources.base import FPS_WINDOW_S, SourceStatus

    status = SourceStatus("folder")
    for _ in range(4):
        status.frame(time.time())
    assert status.fps == pytest.approx(4 / FPS_WINDOW_S)
