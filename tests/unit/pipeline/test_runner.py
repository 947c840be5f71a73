"""The runner's frame path with a scripted detector: scaling, filters, confirmation, snapshots,
sink isolation and acknowledgement."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gunwatch.domain import BBox, Detection, Frame
from gunwatch.pipeline.confirm import ConfirmSettings, Confirmer
from gunwatch.pipeline.filters import FrameFilter
from gunwatch.pipeline.runner import FrameInbox, Runner
from gunwatch.regions.config import RegionSettings
from gunwatch.regions.stage import RegionDetector


class ScriptedDetector:
    """Plays back one list of detections per call, in image pixels."""

    name = "scripted"

    def __init__(self, script):
        self.script = list(script)

    def detect(self, image):
        return self.script.pop(0)

    def close(self):
        pass


class Recorder:
    name = "recorder"

    def __init__(self):
        self.calls = []

    def handle(self, frame, detections, confirmations):
        self.calls.append((frame, detections, confirmations))

    def close(self):
        pass


class Broken:
    name = "broken"

    def handle(self, *args):
        raise RuntimeError("sink bug")

    def close(self):
        pass


def whole_frames(detector):
    """The real region stage, looking at whole frames only: the detector sees each frame as is."""
    return RegionDetector(detector, nms=0.45, model_side=416,
                          settings_for=lambda camera: RegionSettings(modes=["whole"]))


def frame(i, camera="cam", scale=(2.0, 2.0), acks=None):
    return Frame(camera=camera, image=np.zeros((270, 480, 3), np.uint8), at=float(i), origin=f"f{i}",
                 scale=scale, ack=(lambda: acks.append(i)) if acks is not None else None)


def test_frames_flow_to_sinks_with_boxes_in_original_pixels(tmp_path):
    gun = Detection("gun", 0.9, BBox(100, 50, 40, 20))
    person = Detection("person", 0.9, BBox(0, 0, 10, 10))
    recorder, acks = Recorder(), []
    runner = Runner([], whole_frames(ScriptedDetector([[gun, person]] * 3)), Confirmer(ConfirmSettings(hits=2, window=3)),
                    [Broken(), recorder], default_filter=FrameFilter(), snapshot_dir=tmp_path)
    results = [runner.process(frame(i, acks=acks)) for i in range(3)]
    assert [c.kind for c in results[1]] == ["opened"]
    _, detections, confirmations = recorder.calls[1]
    assert detections == [Detection("gun", 0.9, BBox(200, 100, 80, 40))]  # scaled x2, person dropped
    snapshot = confirmations[0].incident.snapshot
    assert snapshot and (tmp_path / snapshot.split("/")[-1]).exists()
    assert acks == [0, 1, 2]  # acknowledged even though one sink failed
    assert runner.counters.errors == 3 and runner.counters.incidents == 1
    assert list(runner.counters.regions) == [1, 1, 1] and runner.counters.regions_dropped == 0


def test_detector_failure_is_counted_and_the_frame_not_acknowledged():
    class Failing(ScriptedDetector):
        def detect(self, image):
            raise ValueError("bad frame")

    acks = []
    runner = Runner([], whole_frames(Failing([])), Confirmer(), [Recorder()])
    assert runner.process(frame(0, acks=acks)) == []
    assert runner.counters.errors == 1 and acks == []


def test_inbox_latest_keeps_newest_and_queue_keeps_all_round_robin():
    inbox = FrameInbox(limit=3)
    for i in range(5):
        inbox.put(frame(i, camera="live"), "latest")
    for i in range(5):
        inbox.put(frame(10 + i, camera="folder"), "queue")
    inbox.put(frame(20, camera="other"), "queue")
    got = [inbox.get(0.1).origin for _ in range(5)]
    # cameras take turns, the longest-waiting first; "latest" kept only f4, the queue its last 3
    assert got == ["f4", "f12", "f20", "f13", "f14"]
    assert inbox.dropped == 2
    assert inbox.get(0.01) is None


def test_each_snapshot_is_logged_at_info_with_its_best_score(caplog):
    gun = Detection("gun", 0.62, BBox(100, 50, 40, 20))
    runner = Runner([], whole_frames(ScriptedDetector([[gun], []])), Confirmer(), [Recorder()],
                    default_filter=FrameFilter())
    caplog.set_level("INFO", logger="gunwatch.pipeline.runner")
    for i in range(2):
        runner.process(replace(frame(i), single_frame=True))
    lines = [r.getMessage() for r in caplog.records if "snapshot=" in r.getMessage()]
    assert lines == ["camera=cam snapshot=f0 guns=1 best=0.62", "camera=cam snapshot=f1 guns=0 best=-"]


def test_closed_incident_names_the_frame_that_opened_it_not_the_gun_free_one():
    gun = Detection("gun", 0.9, BBox(100, 50, 40, 20))
    recorder = Recorder()
    runner = Runner([], whole_frames(ScriptedDetector([[gun], [gun], [], []])),
                    Confirmer(ConfirmSettings(hits=2, window=3, lost_after_s=1)), [recorder],
                    default_filter=FrameFilter())
    events = [c for i in (0, 1, 2, 5) for c in runner.process(frame(i))]
    assert [(c.kind, c.incident.origin) for c in events] == [("opened", "f1"), ("closed", "f1")]
