"""Alert delivery: incident -> Twilio request latency, outbox throughput, and kill -9 recovery.

Everything runs against the local fake Twilio API (tests/support/fake_twilio.py) with the real
`twilio` client; no network. Three measurements:

- latency: confirmed incident handed to `Outbox.enqueue` -> the SMS request arriving at the
  provider, p50/p95 over N incidents spaced apart (target p95 < 200 ms). Baseline in the same
  run: the seed's way, `client.messages.create` called directly (no outbox, no durability).
- throughput: incidents/s `enqueue` accepts (durable, fsync'd commits) while the worker
  delivers, and how fast the worker drains them.
- kill -9: `gunwatch alert deliver` killed with SIGKILL at random moments while it delivers
  (the provider takes --answer-ms per request, so kills land inside requests too), restarted
  until done; then every alert is counted at the provider. Lost must be 0; a duplicate is
  allowed only for an alert that was in flight (state `sending`) at a kill.

    python benchmarks/alerts.py --json [--n 200] [--throughput-n 500] [--kill-alerts 60] [--kills 6]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake provider lives with the tests

from gunwatch import __version__  # noqa: E402
from gunwatch.alerts.channel import create_channels  # noqa: E402
from gunwatch.alerts.outbox import Outbox, Store, outbox_path  # noqa: E402
from gunwatch.alerts.worker import DeliveryWorker  # noqa: E402
from gunwatch.config import GunwatchConfig  # noqa: E402
from gunwatch.domain import BBox, Incident  # noqa: E402
from gunwatch.machine import describe_cpu  # noqa: E402
from tests.support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio  # noqa: E402

TARGET_P95_MS = 200.0
TO, FROM = "+15550000001", "+15550000100"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_config(state_dir: Path, api_url: str) -> dict:
    """Policies off (every incident alerts at once), short backoff, one SMS recipient."""
    return {"state_dir": str(state_dir), "alerts": {
        "poll_s": 0.2, "retry": {"initial_s": 0.1, "max_s": 1.0},
        "policy": {"camera_cooldown_s": 0, "recipient_interval_s": 0,
                   "rate_limit": {"max_incidents": 1_000_000, "window_s": 1}},
        "channels": {"sms": {"type": "twilio_sms", "account_sid": ACCOUNT_SID,
                             "auth_token": AUTH_TOKEN, "from_number": FROM, "recipients": [TO],
                             "api_url": api_url, "status_poll_s": 0.5}}}}


def incident(n: int) -> Incident:
    return Incident(id=f"bench-{n}", camera=f"cam{n}", started_at=time.time(), label="gun",
                    confidence=0.9, box=BBox(10, 10, 40, 30), url=f"http://nvr.local/events/{n}")


def camera_of(body: str) -> str:
    return body.split("camera ")[1].split(" ")[0]


def measure_baseline(fake: FakeTwilio, n: int) -> list[float]:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=TwilioHttpClient(timeout=10))
    client.api.base_url = fake.url
    times = []
    for i in range(n):
        started = time.monotonic()
        client.messages.create(to=TO, from_=FROM, body=f"baseline {i}")
        times.append((time.monotonic() - started) * 1000)
    return times


def measure_latency(work: Path, fake: FakeTwilio, n: int) -> list[float]:
    config = GunwatchConfig.model_validate(raw_config(work / "latency", fake.url))
    outbox = Outbox(config.alerts, outbox_path(config))
    worker = DeliveryWorker(outbox, create_channels(config.alerts))
    worker.start()
    enqueued: dict[str, float] = {}
    try:
        for i in range(n):
            enqueued[f"cam{i}"] = time.monotonic()
            outbox.enqueue(incident(i))
            time.sleep(0.02)  # spaced: this measures latency, not queueing
        deadline = time.monotonic() + 30
        while len(fake.sms()) < n and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.stop()
        outbox.close()
    arrived = {camera_of(m.body): m.at for m in fake.sms()}
    return [(arrived[c] - t) * 1000 for c, t in enqueued.items() if c in arrived]


def measure_throughput(work: Path, fake: FakeTwilio, n: int) -> dict:
    config = GunwatchConfig.model_validate(raw_config(work / "throughput", fake.url))
    outbox = Outbox(config.alerts, outbox_path(config))
    worker = DeliveryWorker(outbox, create_channels(config.alerts))
    worker.start()
    try:
        started = time.monotonic()
        for i in range(n):
            outbox.enqueue(incident(i))
        accepted = time.monotonic() - started
        deadline = time.monotonic() + 120
        while outbox.open_count() and time.monotonic() < deadline:
            time.sleep(0.02)
        drained = time.monotonic() - started
    finally:
        worker.stop()
        outbox.close()
    return {"incidents_per_s": round(n / accepted, 1), "delivered_per_s": round(n / drained, 1),
            "throughput_delivered": len(fake.sms())}


def measure_kill9(work: Path, alerts: int, kills: int, answer_ms: float, seed: int) -> dict:
    rng = random.Random(seed)
    with FakeTwilio(answer_delay_s=answer_ms / 1000) as fake:
        raw = raw_config(work / "kill9", fake.url)
        config = GunwatchConfig.model_validate(raw)
        config_path = work / "kill9.yml"
        config_path.write_text(yaml.safe_dump(raw))
        outbox = Outbox(config.alerts, outbox_path(config))
        for i in range(alerts):
            outbox.enqueue(incident(i))
        outbox.close()
        log = open(work / "kill9.log", "ab")
        command = [sys.executable, "-m", "gunwatch", "alert", "deliver", "--config",
                   str(config_path), "--until-empty"]
        in_flight: collections.Counter[str] = collections.Counter()  # camera -> kills it was in flight at
        done_kills = 0
        try:
            while done_kills < kills:
                process = subprocess.Popen(command, stdout=log, stderr=log)
                seen = len(fake.created)
                while len(fake.created) == seen and process.poll() is None:
                    time.sleep(0.005)  # wait until it is really delivering
                if process.poll() is not None:
                    break  # it finished everything before we could kill it
                time.sleep(rng.uniform(0, 0.25))
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                done_kills += 1
                store = Store(outbox_path(config), readonly=True)
                in_flight.update(f"cam{r.incident_id.split('-')[1]}" for r in store.recent(alerts, "sending"))
                store.close()
            final = subprocess.run(command, stdout=log, stderr=log, timeout=300)
        finally:
            log.close()
        counts = collections.Counter(camera_of(m.body) for m in fake.sms())
    expected = {f"cam{i}" for i in range(alerts)}
    # Each kill can duplicate at most the alert it interrupted after the provider accepted it.
    outside = sum(max(0, k - 1 - in_flight[c]) for c, k in counts.items())
    return {"kill9_alerts": alerts, "kill9_kills": done_kills,
            "kill9_lost": len(expected - set(counts)),
            "kill9_duplicates": sum(k - 1 for k in counts.values()),
            "kill9_in_flight_at_kills": sum(in_flight.values()),
            "kill9_duplicates_outside_window": outside,
            "kill9_final_exit": final.returncode}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="incidents for the latency measurement")
    parser.add_argument("--throughput-n", type=int, default=500, help="incidents for throughput")
    parser.add_argument("--kill-alerts", type=int, default=60, help="alerts in the kill -9 run")
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs during the kill -9 run")
    parser.add_argument("--answer-ms", type=float, default=20.0,
                        help="fake provider's time from accepting to answering, kill -9 run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-alerts-") as tmp:
        work = Path(tmp)
        with FakeTwilio() as fake:
            baseline = measure_baseline(fake, min(args.n, 100))
        with FakeTwilio() as fake:
            latency = measure_latency(work, fake, args.n)
        with FakeTwilio() as fake:
            throughput = measure_throughput(work, fake, args.throughput_n)
        kill9 = measure_kill9(work, args.kill_alerts, args.kills, args.answer_ms, args.seed)
    result = {
        "name": "alerts", "gunwatch_version": __version__,
        "device": describe_cpu(),
        "params": vars(args), "n": args.n,
        "p50_ms": round(statistics.median(latency), 1), "p95_ms": round(percentile(latency, 0.95), 1),
        "latency_samples": len(latency),
        "baseline_direct_p50_ms": round(statistics.median(baseline), 1),
        "baseline_direct_p95_ms": round(percentile(baseline, 0.95), 1),
        **throughput, **kill9, "target_p95_ms": TARGET_P95_MS,
    }
    result["ok"] = (result["p95_ms"] < TARGET_P95_MS and len(latency) == args.n
                    and throughput["throughput_delivered"] == args.throughput_n
                    and kill9["kill9_lost"] == 0 and kill9["kill9_duplicates_outside_window"] == 0
                    and kill9["kill9_final_exit"] == 0)
    if not args.json:
        print(f"incident -> Twilio request: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
              f"(direct client call: p50 {result['baseline_direct_p50_ms']} ms)")
        print(f"outbox accepts {result['incidents_per_s']} incidents/s, delivers "
              f"{result['delivered_per_s']}/s")
        print(f"kill -9 x{kill9['kill9_kills']}: {kill9['kill9_alerts']} alerts, "
              f"{kill9['kill9_lost']} lost, {kill9['kill9_duplicates']} duplicates "
              f"({kill9['kill9_in_flight_at_kills']} in flight at a kill)")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
