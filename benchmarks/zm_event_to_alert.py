"""How long from ZoneMinder writing an event's first alarm frame to gunwatch queueing the alert?

Against a real ZoneMinder (install/zoneminder-test.sh starts one if none answers; root needed):
its test camera is shown a gun picture, an event is recorded (forced alarm), and `gunwatch run`,
started as an admin starts it, follows it. Latency per gun event = the time the incident's line
lands in incidents.jsonl (the local durable log; the alert outbox is written right after it,
in the same call) minus the mtime of the event's alarm.jpg (written with the first alarm frame).
A gun-free event follows each gun event: gunwatch folds sightings on one camera into one open
incident (one alert), and the gun-free frames are what closes it, so that each gun event is a
fresh alert to time. Also measured: recall over the gun events, false alerts on the gun-free
ones, and gunwatch's CPU use while nothing happens.

Baseline in the same run: the same gunwatch noticing events the way zmeventnotification does,
by polling every 5 s (its default event_check_interval), over a few events.

Pictures: with the gun model bundle, `--events` pistols *test* images in random order, not
screened (recall counts the model's misses as well as gunwatch's), darknet's sample photos as
gun-free frames, and, when fewer than `--min-latency` gun events alerted, further test images
the model finds clearly (0.1 above its threshold, after ZoneMinder's JPEG re-encoding), until
the latency rests on that many events. Without the bundle, COCO
yolov3-tiny with `person` standing in for the gun (person.jpg, mirrored every other event).

    python benchmarks/zm_event_to_alert.py --json [--events 20] [--model coco]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import requests

from gunwatch import __version__
from gunwatch.machine import describe_cpu

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GUNWATCH_SHARED", REPO.parent / "shared"))
PISTOLS = SHARED / "datasets" / "pistols"
WEIGHTS = SHARED / "weights"
SAMPLES = Path("/usr/share/darknet/data")
GUN_BUNDLE = REPO / "models" / "gun-yolov3-tiny"
SCRIPT = REPO / "install" / "zoneminder-test.sh"
FEED = Path("/var/lib/gunwatch-zm-test/feed.jpg")
MONITOR = "gunwatch-test"
TARGET_P50_S, TARGET_P95_S, TARGET_IDLE_CPU_PCT = 1.0, 2.0, 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def feed_jpeg(path: Path, mirror: bool = False) -> bytes:
    """640x480 letterboxed baseline 4:2:0 JPEG: what the test camera can be shown."""
    image = cv2.imread(str(path))
    if mirror:
        image = cv2.flip(image, 1)
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 114, np.uint8)
    y, x = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


class Camera:
    """The test monitor of install/zoneminder-test.sh, through ZoneMinder's API (auth off)."""

    def __init__(self, url: str):
        self.api = url.rstrip("/") + "/api"
        self.http = requests.Session()
        self.monitor_id = 0

    def get(self, path: str, **params) -> dict:
        response = self.http.get(f"{self.api}/{path}", params=params, timeout=15)
        response.raise_for_status()
        return response.json()

    def up(self) -> bool:
        try:
            return bool(self.get("host/getVersion.json").get("version"))
        except (requests.RequestException, ValueError):
            return False

    def find_monitor(self) -> None:
        monitors = self.get("monitors.json")["monitors"]
        self.monitor_id = next(int(m["Monitor"]["Id"]) for m in monitors if m["Monitor"]["Name"] == MONITOR)

    def idle(self) -> bool:
        return int(self.get(f"monitors/alarm/id:{self.monitor_id}/command:status.json")["status"]) == 0

    def wait_idle(self) -> None:
        deadline = time.monotonic() + 30
        while not self.idle():
            if time.monotonic() > deadline:
                raise RuntimeError("the test monitor never went idle")
            time.sleep(0.2)

    def record(self, jpeg: bytes, hold_s: float) -> int:
        self.wait_idle()
        tmp = FEED.with_name(".feed.tmp.jpg")
        tmp.write_bytes(jpeg)
        os.replace(tmp, FEED)
        time.sleep(1.2)   # pre-event frames of this picture, not the last one
        self.wait_idle()
        status = self.get(f"monitors/alarm/id:{self.monitor_id}/command:on.json")["status"]
        time.sleep(hold_s)
        self.get(f"monitors/alarm/id:{self.monitor_id}/command:off.json")
        return int(re.search(r"event id: (\d+)", status).group(1))

    def event(self, event_id: int) -> dict:
        return self.get(f"events/{event_id}.json")["event"]["Event"]


class IncidentTail(threading.Thread):
    """Notes the wall-clock time each event's first incident line appears in incidents.jsonl."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.first_seen, self.stop = path, {}, threading.Event()

    def run(self) -> None:
        offset = 0
        while not self.stop.is_set():
            if self.path.exists() and self.path.stat().st_size > offset:
                now = time.time()
                with open(self.path) as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                complete = chunk[:chunk.rfind("\n") + 1]
                offset += len(complete.encode())
                for line in complete.splitlines():
                    record = json.loads(line)
                    if record["kind"] in ("opened", "updated") and record.get("event_id"):
                        self.first_seen.setdefault(int(record["event_id"]), now)
            self.stop.wait(0.005)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_gunwatch(work: Path, url: str, model: str, label: str, backend: str, source: str) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    config = work / "gunwatch.yml"
    # cooldown 0 and a short lost_after: every gun event is its own incident, so each one is a
    # fresh alert to time (a real setup folds close sightings into one alert).
    config.write_text(f"""
state_dir: {work / "state"}
metrics: {{port: 0}}
detector: {{backend: {backend}, model: {model}}}
sources:
  - type: zoneminder
    url: {url}
    monitors: [{MONITOR}]
    state_file: {work / "state" / "zoneminder.sqlite"}
{source}
defaults:
  labels: [{label}]
  confirm: {{cooldown_s: 0, lost_after_s: 2}}
""")
    log = open(work / "gunwatch.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 90
    while "following monitors" not in (work / "gunwatch.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunwatch did not start: {(work / 'gunwatch.log').read_text()[-2000:]}")
        time.sleep(0.2)
    return process


Result = tuple[str, bytes, "float | None"]   # kind, picture, latency (None: no alert)


def run_events(camera: Camera, tail: IncidentTail, guns: list[tuple[str, bytes]],
               clean: list[bytes]) -> list[Result]:
    """Record each (kind, JPEG) of `guns` as an event, each followed by a gun-free one; per
    event (kind, JPEG, latency in seconds or None when no alert came)."""
    recorded = []
    for i, (kind, jpeg) in enumerate(guns):
        recorded.append((kind, jpeg, camera.record(jpeg, hold_s=1.0)))
        free = clean[i % len(clean)]
        recorded.append(("clean", free, camera.record(free, hold_s=1.0)))
    camera.wait_idle()
    time.sleep(5)   # the last event's analysis
    results = []
    for kind, jpeg, event_id in recorded:
        seen = tail.first_seen.get(event_id)
        latency = None
        if seen is not None:
            alarm = Path(camera.event(event_id)["FileSystemPath"]) / "alarm.jpg"
            latency = seen - alarm.stat().st_mtime
        results.append((kind, jpeg, latency))
    return results


def alerted(results: list[Result]) -> list[bytes]:
    return [jpeg for kind, jpeg, latency in results if kind != "clean" and latency is not None]


def pictures(kind: str, count: int, backend: str) -> tuple[str, str, list[bytes], Iterator[bytes], list[bytes]]:
    """Model, label, the gun pictures for recall, more gun pictures for latency samples (ones
    the model finds, each different), and gun-free pictures."""
    samples = sorted(SAMPLES.glob("*.jpg"))
    if kind == "gun":
        from gunwatch.detectors.select import create_detector
        from gunwatch.model import load_model

        bundle = load_model(GUN_BUNDLE)
        label = bundle.names[0]
        with open(PISTOLS / "splits.csv", newline="") as fh:
            tests = [PISTOLS / "images" / r["file"] for r in csv.DictReader(fh) if r["split"] == "test"]
        order = [tests[i] for i in np.random.default_rng(5).permutation(len(tests))]

        def found() -> Iterator[bytes]:
            detector = create_detector(backend, bundle)
            margin = bundle.meta.thresholds.confidence + 0.1
            for path in order[count:]:
                jpeg = feed_jpeg(path)
                # as ZoneMinder stores the frame: encoded again at its default quality, 70
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                stored = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])[1],
                                      cv2.IMREAD_COLOR)
                if any(d.label == label and d.confidence >= margin for d in detector.detect(stored)):
                    yield jpeg

        return str(GUN_BUNDLE), label, [feed_jpeg(p) for p in order[:count]], found(), \
            [feed_jpeg(p) for p in samples]
    person = SAMPLES / "person.jpg"
    clean = [feed_jpeg(p) for p in samples if p.name in ("eagle.jpg", "giraffe.jpg", "horses.jpg", "dog.jpg")]
    # mirrored every other time: consecutive events show the person at different places
    more = (feed_jpeg(person, i % 2 == 1) for i in itertools.count(count))
    return str(WEIGHTS / "yolov3-tiny.cfg"), "person", [feed_jpeg(person, i % 2 == 1) for i in range(count)], \
        more, clean


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20, help="gun events for recall (different pictures)")
    parser.add_argument("--min-latency", type=int, default=20,
                        help="latency samples wanted: pictures that alerted are shown again until "
                             "this many gun events have alerted")
    parser.add_argument("--baseline-events", type=int, default=5,
                        help="gun events for the 5 s polling baseline (0: skip it)")
    parser.add_argument("--idle-s", type=float, default=20.0, help="seconds of idle CPU measurement")
    parser.add_argument("--model", choices=["auto", "gun", "coco"], default="auto",
                        help="auto: the gun model bundle when models/gun-yolov3-tiny exists, else COCO")
    parser.add_argument("--backend", default="opencv")
    parser.add_argument("--url", default=os.environ.get("GUNWATCH_ZM_URL", "http://127.0.0.1/zm"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (configs, logs)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kind = args.model if args.model != "auto" else ("gun" if GUN_BUNDLE.is_dir() else "coco")

    camera = Camera(args.url)
    if not camera.up():
        print("zm_event_to_alert: starting ZoneMinder (install/zoneminder-test.sh)", file=sys.stderr)
        subprocess.run(["bash", str(SCRIPT), "start"], check=True)
    camera.find_monitor()
    model, label, guns, more_guns, clean = pictures(kind, args.events, args.backend)

    work = Path(tempfile.mkdtemp(prefix="gunwatch-bench-zm-"))
    try:
        process = start_gunwatch(work / "disk", args.url, model, label, args.backend, "")
        tail = IncidentTail(work / "disk" / "state" / "incidents.jsonl")
        tail.start()
        try:
            results = run_events(camera, tail, [("gun", jpeg) for jpeg in guns], clean)
            # A model that misses some guns gives fewer latency samples: more events, with
            # pictures it finds, until there are enough.
            for _ in range(3):
                wanted = args.min_latency - len(alerted(results))
                extra = [("extra", jpeg) for jpeg in itertools.islice(more_guns, max(0, wanted))]
                if not extra:
                    break
                results += run_events(camera, tail, extra, clean)
            time.sleep(3)
            before, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(args.idle_s)
            idle_cpu = 100 * (cpu_seconds(process.pid) - before) / (time.monotonic() - started)
        finally:
            tail.stop.set()
            process.terminate()
            process.wait(timeout=60)
        baseline: list[float] = []
        if args.baseline_events:
            # zmeventnotification's way: poll for new events every 5 s, frames through the API.
            process = start_gunwatch(work / "poll", args.url, model, label, args.backend,
                                     "    watch: api\n    frames_from: api\n    poll_s: 5")
            tail = IncidentTail(work / "poll" / "state" / "incidents.jsonl")
            tail.start()
            try:
                shown = [("gun", jpeg) for jpeg in alerted(results)[:args.baseline_events]]
                baseline = [lat for kind, _, lat in run_events(camera, tail, shown, clean)
                            if kind != "clean" and lat is not None]
            finally:
                tail.stop.set()
                process.terminate()
                process.wait(timeout=60)

    finally:
        if args.keep:
            print(f"zm_event_to_alert: configs and logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    latencies = [lat for kind, _, lat in results if kind != "clean" and lat is not None]
    recall_set = [lat for kind, _, lat in results if kind == "gun"]
    false_alerts = sum(kind == "clean" and lat is not None for kind, _, lat in results)
    clean_events = sum(kind == "clean" for kind, _, _ in results)
    result = {
        "name": "zm_event_to_alert", "gunwatch_version": __version__,
        "device": f"{describe_cpu()}, "
                  f"load {os.getloadavg()[0]:.1f}",
        "params": {**vars(args), "model": kind, "label": label},
        "n": len(latencies), "events": len(results),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "max_s": round(max(latencies), 3) if latencies else None,
        "recall": round(sum(lat is not None for lat in recall_set) / len(recall_set), 3) if recall_set else None,
        "recall_events": len(recall_set),
        "false_alerts": false_alerts, "gun_free_events": clean_events,
        "idle_cpu_pct": round(idle_cpu, 2),
        "baseline_poll_5s_p50_s": round(statistics.median(baseline), 3) if baseline else None,
        "baseline_poll_5s_n": len(baseline),
        "targets": {"p50_s": TARGET_P50_S, "p95_s": TARGET_P95_S, "idle_cpu_pct": TARGET_IDLE_CPU_PCT},
    }
    result["ok"] = len(latencies) >= args.min_latency and result["p50_s"] <= TARGET_P50_S \
        and result["p95_s"] <= TARGET_P95_S and result["idle_cpu_pct"] < TARGET_IDLE_CPU_PCT
    if not args.json:
        print(f"event -> alert: p50 {result['p50_s']} s, p95 {result['p95_s']} s over {result['n']} "
              f"events (5 s polling baseline: p50 {result['baseline_poll_5s_p50_s']} s); recall "
              f"{result['recall']}, false alerts {false_alerts}, idle CPU {result['idle_cpu_pct']} %",
              file=sys.stderr)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
