"""A real ZoneMinder for the adapter's tests (started by install/zoneminder-test.sh, as .ci/run
does): its test camera is shown pictures, events are recorded through its alarm API, and gunwatch
runs as an admin runs it (`gunwatch run --config FILE`, a separate process).

The pictures come from the model under test. With the gun model bundle (models/gun-yolov3-tiny)
the guns are pistols *test* images and the gun-free frames darknet's sample photos and test
images with their guns painted out (the same hands and rooms, no gun); without it
(or with GUNWATCH_ZM_TEST_MODEL=coco) COCO yolov3-tiny stands in, with `person` as the class that
counts, person.jpg as the "gun" and photos without people as gun-free frames;
GUNWATCH_ZM_TEST_MODEL=/path/to/bundle tries another gun model. Either way only
pictures the model itself scores clearly are used, so these tests check the ZoneMinder plumbing,
not the model's accuracy (the benchmarks do that)."""

from __future__ import annotations

import csv
import functools
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import requests

from ...conftest import DARKNET_SAMPLES, PISTOLS, REPO, WEIGHTS, need
from ...support.wait import wait_for

ZM_URL = os.environ.get("GUNWATCH_ZM_URL", "http://127.0.0.1/zm").rstrip("/")
MONITOR = "gunwatch-test"
FEED = Path(os.environ.get("GUNWATCH_ZM_FEED", "/var/lib/gunwatch-zm-test/feed.jpg"))
SCRIPT = REPO / "install" / "zoneminder-test.sh"
ADMIN = {"user": "admin", "pass": "admin"}
GUN_BUNDLE = REPO / "models" / "gun-yolov3-tiny"
WIDTH, HEIGHT = 640, 480
# Mean absolute difference (0-255) under which the camera's frame is the picture it was shown.
SAME_PICTURE_LEVELS = 4.0


# The shared wait_for at ZoneMinder's pace: its API is asked at most five times a second.
wait = functools.partial(wait_for, interval=0.2)


class ZoneMinder:
    """The test ZoneMinder, driven as its admin and its camera would drive it."""

    def __init__(self, url: str):
        self.url, self.api = url, url + "/api"
        self.http = requests.Session()
        self.token: str | None = None
        self.monitor_id: int | None = None

    def _call(self, method: str, path: str, params: dict | None = None) -> requests.Response:
        for _ in range(2):
            query = dict(params or {})
            if self.token:
                query["token"] = self.token
            response = self.http.request(method, f"{self.api}/{path}", params=query, timeout=15)
            if response.status_code != 401:
                return response
            login = self.http.post(f"{self.api}/host/login.json", data=ADMIN, timeout=15)
            self.token = login.json().get("access_token") if login.ok else None
        return response

    def get(self, path: str, **params) -> dict | None:
        response = self._call("GET", path, params=params)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def reachable(self) -> bool:
        try:
            return bool((self.get("host/getVersion.json") or {}).get("version"))
        except (requests.RequestException, ValueError):
            return False

    def find_monitor(self) -> int | None:
        for monitor in (self.get("monitors.json") or {}).get("monitors", []):
            if monitor["Monitor"]["Name"] == MONITOR:
                return int(monitor["Monitor"]["Id"])
        return None

    # --------------------------------------------------------------- the camera
    def show(self, jpeg: bytes) -> None:
        """Put a picture in front of the camera (the feed is replaced atomically)."""
        tmp = FEED.with_name(".feed.tmp.jpg")
        tmp.write_bytes(jpeg)
        tmp.chmod(0o644)
        os.replace(tmp, FEED)

    def shows(self, picture: np.ndarray) -> bool:
        """Whether the camera's newest frame (zms, one JPEG) is this picture. ZoneMinder decodes
        and encodes it again: the same picture comes back within about 1 level on average,
        another one tens of levels away."""
        params = {"mode": "single", "monitor": self.monitor_id, "scale": 100}
        if self.token:
            params["token"] = self.token
        try:
            response = self.http.get(f"{self.url}/cgi-bin/nph-zms", params=params, timeout=10)
        except requests.RequestException:
            return False
        if response.status_code == 403:   # auth on and no token yet, or an expired one
            self.get("host/getVersion.json")
            return False
        frame = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        return (frame is not None and frame.shape == picture.shape
                and float(np.mean(cv2.absdiff(frame, picture))) < SAME_PICTURE_LEVELS)

    def idle(self) -> bool:
        try:
            return int(self.get(f"monitors/alarm/id:{self.monitor_id}/command:status.json")["status"]) == 0
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return False

    def wait_idle(self, timeout: float = 30.0) -> None:
        assert wait(self.idle, timeout), "the test monitor never went idle"

    def start_event(self, jpeg: bytes) -> int:
        """Show a picture, then start recording it (forced alarm); the new event's id."""
        self.wait_idle()   # a picture shown during the last event's post-event frames would leak into it
        self.show(jpeg)
        # The capture daemon picks the new picture up within ~0.2 s on an idle machine, but a busy
        # one (CI, two networks loading) has been seen to record the previous picture instead.
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert wait(lambda: self.shows(picture), 20), "the test camera did not show the new picture within 20 s"
        time.sleep(1.2)    # the pre-event frames must be of this picture too
        self.wait_idle()
        answer = self.get(f"monitors/alarm/id:{self.monitor_id}/command:on.json")
        match = re.search(r"event id: (\d+)", answer["status"])
        assert match, f"alarm did not start an event: {answer}"
        return int(match.group(1))

    def stop_event(self) -> None:
        self.get(f"monitors/alarm/id:{self.monitor_id}/command:off.json")

    def trigger(self, jpeg: bytes, seconds: int = 2) -> None:
        """Record an event through zmtrigger (tcp 6802), which needs neither the API nor the web
        server: `id|on+N|score|cause|text|showtext`."""
        self.show(jpeg)
        time.sleep(1.2)
        with socket.create_connection(("127.0.0.1", 6802), timeout=5) as conn:
            conn.sendall(f"{self.monitor_id}|on+{seconds}|255|test|shown|\n".encode())

    def record(self, jpeg: bytes, seconds: float = 1.0) -> int:
        """An event of `seconds` of alarm (plus pre- and post-event frames) showing the picture.
        Returns without waiting for the event to close."""
        event_id = self.start_event(jpeg)
        time.sleep(seconds)
        self.stop_event()
        return event_id

    def event(self, event_id: int) -> dict | None:
        body = self.get(f"events/{event_id}.json")
        return body["event"]["Event"] if body else None

    def wait_closed(self, event_id: int, timeout: float = 30.0) -> dict:
        event = wait(lambda: (e := self.event(event_id)) and e["EndDateTime"] and e, timeout)
        assert event, f"event {event_id} did not close"
        return event

    def delete(self, event_id: int) -> None:
        self._call("DELETE", f"events/{event_id}.json").raise_for_status()

    def events_after(self, event_id: int) -> list[dict]:
        body = self.get(f"events/index/MonitorId:{self.monitor_id}/Id >:{event_id}.json", sort="Id",
                        direction="asc") or {}
        return [e["Event"] for e in body.get("events", [])]

    def newest_event_id(self) -> int:
        body = self.get("events.json", sort="Id", direction="desc", limit=1) or {}
        events = body.get("events", [])
        return int(events[0]["Event"]["Id"]) if events else 0

    # --------------------------------------------------------------- the server
    def script(self, *args: str) -> None:
        result = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"zoneminder-test.sh {' '.join(args)} failed:\n{result.stderr[-2000:]}"

    def set_auth(self, on: bool) -> None:
        self.script("auth", "on" if on else "off")
        self.token = None

    def capturing(self) -> bool:
        try:
            status = (self.get(f"monitors/{self.monitor_id}.json") or {}).get("monitor", {}).get("Monitor_Status") or {}
            return status.get("Status") == "Connected" and float(status.get("CaptureFPS") or 0) > 0
        except (requests.RequestException, ValueError):
            return False

    def web(self, on: bool) -> None:
        """Start or stop the web server alone: the API goes away, the recorder records on."""
        result = subprocess.run(["apache2ctl", "start" if on else "stop"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        if not on:
            assert wait(lambda: not self.reachable(), 20), "the API still answers"

    def restart(self, down_s: float = 2.0) -> None:
        """Stop ZoneMinder and its web server, wait, start them again, wait for the camera."""
        self.script("stop")
        time.sleep(down_s)
        self.script("start")
        assert wait(self.capturing, 60), "the test camera did not capture again after the restart"


@pytest.fixture(scope="session")
def zoneminder() -> ZoneMinder:
    zm = ZoneMinder(ZM_URL)
    need(zm.reachable(), f"no ZoneMinder API at {ZM_URL} (start one: bash install/zoneminder-test.sh)")
    zm.monitor_id = zm.find_monitor()
    need(zm.monitor_id is not None, f"ZoneMinder has no monitor {MONITOR!r} (bash install/zoneminder-test.sh)")
    need(FEED.parent.is_dir() and os.access(FEED.parent, os.W_OK), f"cannot write the camera feed {FEED}")
    if zm.token:   # a run that stopped half-way left auth on: tests start from auth off
        zm.set_auth(False)
    return zm


@dataclass(frozen=True)
class Subject:
    """The model gunwatch runs, the class that counts as the gun, and pictures it scores clearly."""

    kind: str                  # "gun" or "coco"
    model: str
    label: str
    confidence: float | None   # detector threshold in the config (None: the model's own)
    guns: tuple[bytes, ...]    # 640x480 JPEGs the model finds `label` in
    clean: tuple[bytes, ...]   # 640x480 JPEGs without it

    @property
    def confidence_yaml(self) -> str:
        return "null" if self.confidence is None else str(self.confidence)


def painted_out(path: Path) -> np.ndarray:
    """A pistols picture with its labelled guns painted out (inpainted a little beyond the box)."""
    image = cv2.imread(str(path))
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    for line in (PISTOLS / "labels" / path.with_suffix(".txt").name).read_text().splitlines():
        if line.strip():
            _, cx, cy, bw, bh = map(float, line.split())
            x0, y0 = int((cx - bw * 0.6) * w), int((cy - bh * 0.6) * h)
            x1, y1 = int((cx + bw * 0.6) * w), int((cy + bh * 0.6) * h)
            cv2.rectangle(mask, (max(x0, 0), max(y0, 0)), (min(x1, w - 1), min(y1, h - 1)), 255, -1)
    return cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)


def feed_jpeg(source: Path | np.ndarray, mirror: bool = False) -> bytes:
    """A picture as the test camera's 640x480 feed: letterboxed, baseline 4:2:0 JPEG."""
    image = cv2.imread(str(source)) if isinstance(source, Path) else source
    if mirror:
        image = cv2.flip(image, 1)
    scale = min(WIDTH / image.shape[1], HEIGHT / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    canvas = np.full((HEIGHT, WIDTH, 3), 114, np.uint8)
    y, x = (HEIGHT - resized.shape[0]) // 2, (WIDTH - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    ok, data = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


@pytest.fixture(scope="session")
def subject() -> Subject:
    from gunwatch.detectors.base import DetectorSettings
    from gunwatch.detectors.select import create_detector
    from gunwatch.model import load_model

    choice = os.environ.get("GUNWATCH_ZM_TEST_MODEL", "gun" if GUN_BUNDLE.is_dir() else "coco")
    gun_bundle = GUN_BUNDLE
    if choice not in ("gun", "coco"):
        gun_bundle, choice = Path(choice), "gun"
    need(DARKNET_SAMPLES.is_dir(), f"no darknet sample photos in {DARKNET_SAMPLES} (apt-get install darknet)")
    samples = sorted(DARKNET_SAMPLES.glob("*.jpg"))
    if choice == "gun":
        model_ref, bundle = str(gun_bundle), load_model(gun_bundle)
        label = bundle.names[0]
        need(PISTOLS.is_dir(), f"no pistols dataset at {PISTOLS}")
        with open(PISTOLS / "splits.csv", newline="") as fh:
            tests = [PISTOLS / "images" / r["file"] for r in csv.DictReader(fh) if r["split"] == "test"]
        gun_candidates = tests[:100]
        # painted out only if the sample photos do not give two (inpainting takes a while)
        clean_candidates = itertools.chain(samples, (painted_out(p) for p in tests[:20]))
        confidence = None
    else:
        cfg = WEIGHTS / "yolov3-tiny.cfg"
        need(cfg.exists(), f"no COCO yolov3-tiny in {WEIGHTS}")
        model_ref, bundle, label = str(cfg), load_model(cfg, WEIGHTS / "coco.names"), "person"
        gun_candidates = [p for p in samples if p.name == "person.jpg"]
        clean_candidates = [p for p in samples if p.name in ("eagle.jpg", "giraffe.jpg", "horses.jpg")]
        confidence = 0.3
    threshold = bundle.meta.thresholds.confidence if confidence is None else confidence
    detector = create_detector("opencv", bundle, DetectorSettings(confidence=0.05, nms=0.45))

    def best(jpeg: bytes) -> float:
        # As ZoneMinder stores it: decoded and encoded again (at its default quality, 70).
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        stored = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], cv2.IMREAD_COLOR)
        return max((d.confidence for d in detector.detect(stored) if d.label == label), default=0.0)

    guns, clean = [], []
    # Mirrored pictures are the second choice: different frames, same content.
    for path, mirror in [(p, False) for p in gun_candidates] + [(p, True) for p in gun_candidates]:
        jpeg = feed_jpeg(path, mirror)
        if best(jpeg) >= min(0.7, threshold + 0.2):
            guns.append(jpeg)
        if len(guns) == 2:
            break
    for picture in clean_candidates:
        jpeg = feed_jpeg(picture)
        if best(jpeg) < threshold / 2:
            clean.append(jpeg)
        if len(clean) == 2:
            break
    detector.close()
    need(len(guns) == 2 and len(clean) == 2,
         f"the {choice} model scores too few test pictures clearly ({len(guns)} with {label}, "
         f"{len(clean)} without)")
    return Subject(choice, model_ref, label, confidence, tuple(guns), tuple(clean))


class Service:
    """`gunwatch run --config FILE` in its own process, its log in a file."""

    def __init__(self, workdir: Path, zm: ZoneMinder, subject: Subject, source: str = "", env: dict | None = None,
                 top: str = ""):
        self.workdir, self.zm, self.subject = workdir, zm, subject
        self.state = workdir / "state"
        self.config = workdir / "gunwatch.yml"
        self.log_path = workdir / "gunwatch.log"
        workdir.mkdir(parents=True, exist_ok=True)
        # metrics on any free port: several services may run at once
        self.config.write_text(f"""
state_dir: {self.state}
metrics: {{port: 0}}
{top}
detector: {{backend: opencv, model: {subject.model}, confidence: {subject.confidence_yaml}}}
sources:
  - type: zoneminder
    url: {zm.url}
    monitors: [{MONITOR}]
    state_file: {self.state}/zoneminder.sqlite
{source}
defaults:
  labels: [{subject.label}]
""")
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen | None = None
        self.runs = 0

    def start(self, ready: str = "following monitors") -> Service:
        """Start gunwatch and wait until its log shows `ready`."""
        self.runs += 1
        self._mark = self.log().count("\n")
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunwatch", "--log-level", "DEBUG", "run", "--config", str(self.config)],
            stdout=subprocess.DEVNULL, stderr=log, env=self.env, cwd=self.workdir)
        log.close()
        started = wait(lambda: ready in self.log_since_start() or self.process.poll() is not None, 60)
        assert started and self.process.poll() is None, f"gunwatch did not start:\n{self.log()[-3000:]}"
        return self

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        """kill -9: no goodbye, nothing flushed but what is already on disk."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_since_start(self) -> str:
        return "\n".join(self.log().split("\n")[self._mark:])

    def incidents(self) -> list[dict]:
        path = self.state / "incidents.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def analysed(self) -> list[tuple[int, str]]:
        """(event, frame) for every frame handed to the detector, over all runs."""
        return [(int(e), f) for e, f in re.findall(r"event=(\d+) camera=\S+: analysing frame (\S+)", self.log())]

    def done(self, event_id: int) -> str | None:
        """Why the source finished the event, None while it has not."""
        match = re.search(rf"event={event_id} camera=\S+: done after \d+ frames \((.*)\)", self.log())
        return match.group(1) if match else None

    def marked(self, event_id: int) -> dict | None:
        """The event once gunwatch's notes are in it."""
        event = self.zm.event(event_id)
        return event if event and "[gunwatch]" in (event["Notes"] or "") else None

    def assert_clean_run(self) -> None:
        text = self.log()
        assert "Traceback" not in text and " ERROR " not in text, text[-4000:]
        pairs = self.analysed()
        repeated = sorted({p for p in pairs if pairs.count(p) > 1})
        assert not repeated, f"frames analysed twice: {repeated}"


@pytest.fixture
def service(tmp_path, zoneminder, subject):
    """Factory: service(extra source keys as YAML lines, env, ready, top-level YAML) -> a started
    Service; every one is stopped at the end."""
    made: list[Service] = []

    def make(source: str = "", env: dict | None = None, ready: str = "following monitors", top: str = "") -> Service:
        svc = Service(tmp_path / f"svc{len(made)}", zoneminder, subject, source, env, top)
        made.append(svc)
        return svc.start(ready)

    yield make
    for svc in made:
        svc.stop()
