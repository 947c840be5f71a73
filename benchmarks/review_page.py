"""Review page: how long the incidents page takes to render with 10,000 incidents in the store,
and what the page costs in memory.

The store holds --incidents incidents over --cameras cameras (one snapshot each, a third
reviewed), the alert outbox two deliveries per incident. Measured in-process through Flask's
test client (routing, SQLite queries, outbox lookup, Jinja2 rendering; no network):

- render: GET / (newest 50), GET /?camera=cam3&state=open (filtered) and GET /?page=100 (deep
  page), p50/p95 over --n requests each, and GET / over HTTP from the served app (target p95
  < 200 ms).
- baseline in the same run: what an admin had before, the incident log: read and parse
  incidents.jsonl with as many lines and pick the newest 50 (no HTML at all).
- memory: RSS growth of the process from before the app is built to after every request, and
  the peak Python allocation (tracemalloc) of one render.

    python benchmarks/review_page.py --json [--incidents 10000] [--n 200]
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from gunwatch import __version__  # noqa: E402
from gunwatch.alerts.outbox import Store  # noqa: E402
from gunwatch.config import GunwatchConfig  # noqa: E402
from gunwatch.machine import describe_cpu  # noqa: E402
from gunwatch.pipeline.confirm import ConfirmSettings, Confirmer  # noqa: E402
from gunwatch.pipeline.runner import Runner  # noqa: E402
from gunwatch.web.app import create_app  # noqa: E402
from gunwatch.web.server import WebServer  # noqa: E402
from gunwatch.web.store import ReviewStore  # noqa: E402

TARGET_P95_MS = 200.0
T0 = 1_760_000_000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def fill(state_dir: Path, incidents: int, cameras: int, seed: int = 0) -> None:
    """The review store, the outbox and the incident log of `incidents` incidents."""
    rng = random.Random(seed)
    store = ReviewStore(state_dir / "review.sqlite")
    rows, snaps, log_lines = [], [], []
    for n in range(incidents):
        camera, at = f"cam{n % cameras}", T0 + n * 37.0
        iid = f"{camera}:{int(at * 1000)}:1"
        state = rng.choice(("open", "open", "confirmed", "false_alarm"))
        conf = round(rng.uniform(0.5, 1.0), 4)
        rows.append((iid, camera, "gun", at, at + 3, conf, 0, None, None, "gun-yolov3-tiny", state))
        name = f"{iid.replace(':', '_')}-0.jpg"
        snaps.append((iid, 0, at, conf, "[10, 20, 30, 40]", name, name, "[10, 20, 30, 40]"))
        log_lines.append(json.dumps({"kind": "opened", "id": iid, "camera": camera, "started_at": at,
                                     "label": "gun", "confidence": conf, "box": {"x": 10, "y": 20, "w": 30, "h": 40},
                                     "update": 0, "snapshot": str(state_dir / "snapshots" / name)}))
    with store._db:
        store._db.executemany("INSERT INTO incidents (id, camera, label, started_at, updated_at, confidence,"
                              " update_no, event_id, url, model, state) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        store._db.executemany("INSERT INTO snapshots VALUES (?,?,?,?,?,?,?,?)", snaps)
    store.close()
    Store(state_dir / "alerts.sqlite").close()  # the outbox's own schema
    db = sqlite3.connect(state_dir / "alerts.sqlite")
    with db:  # one transaction
        db.executemany("INSERT INTO incidents (id, camera, started_at, label, confidence, box, update_no,"
                       " received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                       [(r[0], r[1], r[3], "gun", r[5], "[10,20,30,40]", 0, r[3], r[3]) for r in rows])
        db.executemany("INSERT INTO alerts (incident_id, channel, recipient, state, attempts, created_at,"
                       " updated_at, sent_at) VALUES (?,?,?,?,?,?,?,?)",
                       [(r[0], ch, to, "delivered", 1, r[3], r[3], r[3])
                        for r in rows for ch, to in (("sms", "+15550000001"), ("mail", "guard@example.org"))])
    db.close()
    (state_dir / "incidents.jsonl").write_text("\n".join(log_lines) + "\n")


def time_requests(client, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        reply = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if reply.status_code != 200:
            raise RuntimeError(f"GET {path}: {reply.status_code}")
    return times


def baseline_log(path: Path, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        with open(path) as fh:
            records = [json.loads(line) for line in fh]
        newest = sorted(records, key=lambda r: r["started_at"], reverse=True)[:50]
        times.append((time.perf_counter() - started) * 1000)
        assert len(newest) == 50
    return times


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        state_dir = Path(tmp)
        started = time.perf_counter()
        # In a child process, so that the fill's memory does not blur this process's RSS.
        child = multiprocessing.get_context("fork").Process(target=fill, args=(state_dir, args.incidents, args.cameras))
        child.start()
        child.join()
        fill_s = time.perf_counter() - started
        gc.collect()
        rss_before = rss_kib()
        config = GunwatchConfig.model_validate({"state_dir": str(state_dir)})
        runner = Runner([], None, Confirmer(ConfirmSettings()), [])
        app = create_app(lambda: config, lambda: runner)
        client = app.test_client()
        first = client.get("/")
        rows = first.get_data(as_text=True).count('class="incident ')
        out = {"page_rows": rows, "fill_s": round(fill_s, 1)}
        for key, path in (("newest", "/"), ("filtered", "/?camera=cam3&state=open"), ("deep", "/?page=100")):
            t = time_requests(client, path, args.n)
            out[f"{key}_p50_ms"] = round(statistics.median(t), 1)
            out[f"{key}_p95_ms"] = round(percentile(t, 0.95), 1)
        # The same page over HTTP from the served app (werkzeug's threaded server, as `gunwatch run`).
        server = WebServer(config.metrics.model_copy(update={"port": 0}), lambda: config, lambda: runner)
        server.start()
        t = []
        for _ in range(args.n):
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=10) as reply:
                reply.read()
            t.append((time.perf_counter() - started) * 1000)
        server.stop()
        out["http_newest_p50_ms"] = round(statistics.median(t), 1)
        out["http_newest_p95_ms"] = round(percentile(t, 0.95), 1)
        rss_after = rss_kib()
        tracemalloc.start()
        client.get("/")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        base = baseline_log(state_dir / "incidents.jsonl", max(10, args.n // 10))
        app.extensions["gunwatch"]["store"].close()
        out.update({
            "baseline_log_p50_ms": round(statistics.median(base), 1),
            "baseline_log_p95_ms": round(percentile(base, 0.95), 1),
            "app_rss_growth_mib": round((rss_after - rss_before) / 1024, 1),
            "render_peak_alloc_kib": round(peak / 1024),
            "page_kib": round(len(first.data) / 1024, 1),
        })
    worst = max(out["newest_p95_ms"], out["filtered_p95_ms"], out["deep_p95_ms"], out["http_newest_p95_ms"])
    out.update(target_p95_ms=TARGET_P95_MS, ok=rows == 50 and worst < TARGET_P95_MS)
    return out


def render_table(result: dict) -> str:
    lines = [f"review page, {result['params']['incidents']} incidents ({result['device']})"]
    for key in ("newest", "filtered", "deep"):
        lines.append(f"  GET {key:9s} p50 {result[f'{key}_p50_ms']:7.1f} ms  p95 {result[f'{key}_p95_ms']:7.1f} ms")
    lines.append(f"  GET / over HTTP p50 {result['http_newest_p50_ms']:7.1f} ms  p95 {result['http_newest_p95_ms']:7.1f} ms")
    lines.append(f"  baseline: parse incidents.jsonl, newest 50: p50 {result['baseline_log_p50_ms']} ms, "
                 f"p95 {result['baseline_log_p95_ms']} ms")
    lines.append(f"  memory: app + {result['n'] * 4} requests +{result['app_rss_growth_mib']} MiB RSS, "
                 f"one render peaks at {result['render_peak_alloc_kib']} KiB; page {result['page_kib']} KiB")
    lines.append(f"  ok: {result['ok']} (target p95 < {result['target_p95_ms']:.0f} ms)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000, help="incidents in the store")
    parser.add_argument("--cameras", type=int, default=8, help="cameras they are spread over")
    parser.add_argument("--n", type=int, default=200, help="requests per page measured")
    parser.add_argument("--json", action="store_true", help="print one JSON object (last line)")
    args = parser.parse_args()
    result = {"name": "review_page", "gunwatch_version": __version__,
              "device": describe_cpu(),
              "params": vars(args), "n": args.n, **measure(args)}
    print(json.dumps(result) if args.json else render_table(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
