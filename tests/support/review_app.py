"""A review app over a real store, sink and runner (not started), fed real sightings: the
review pages' tests build theirs with make_review (tests/unit/web, and the served app in
tests/integration/test_web_server.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from gunwatch.config import GunwatchConfig
from gunwatch.domain import BBox, Confirmation, Frame, Incident
from gunwatch.pipeline.confirm import ConfirmSettings, Confirmer
from gunwatch.pipeline.runner import Runner
from gunwatch.untrusted import file_name
from gunwatch.web.app import create_app
from gunwatch.web.sink import ReviewSink

TOKEN = "tok-3f9a1c77d2e04b5e9c1d"
PASSWORD = "pw-9b8c7d6e5f4a3b2c"


class NoDetector:
    name = "none"


def sighting(sink: ReviewSink, snapshot_dir, camera: str, started_at: float, update: int = 0,
             confidence: float = 0.9, kind: str = "opened", scale: float = 1.0) -> Incident:
    """What the runner hands the sinks for one confirmation, snapshot file included."""
    image = np.full((120, 160, 3), 40 + update, np.uint8)
    incident = Incident(id=f"{camera}:{int(started_at * 1000)}:1", camera=camera, started_at=started_at,
                        label="gun", confidence=confidence, box=BBox(20, 30, 40, 20), update=update)
    name = f"{file_name(incident.id)}-{update}.jpg"  # as the runner names it
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(snapshot_dir / name), image)
    incident = replace(incident, snapshot=str(snapshot_dir / name))
    frame = Frame(camera, image, started_at + update, origin="test", scale=(scale, scale))
    sink.handle(frame, [], [Confirmation(kind, incident)])
    return incident


@dataclass
class Review:
    client: object
    app: object
    config: GunwatchConfig
    sink: ReviewSink
    runner: Runner

    def csrf(self) -> str:
        self.client.get("/cameras")
        with self.client.session_transaction() as s:
            return s["csrf"]


def make_review(tmp_path, metrics: dict | None = None, cameras: dict | None = None) -> Review:
    config = GunwatchConfig.model_validate({"state_dir": str(tmp_path / "state"),
                                            "metrics": metrics or {}, "cameras": cameras or {}})
    sink = ReviewSink(config.state_dir, "gun-yolov3-tiny")
    runner = Runner([], NoDetector(), Confirmer(ConfirmSettings()), [sink])
    app = create_app(lambda: config, lambda: runner)
    app.testing = True
    return Review(app.test_client(), app, config, sink, runner)
