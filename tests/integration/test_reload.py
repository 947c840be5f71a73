"""SIGHUP reloads the config of a running `gunwatch run`: a broken file is refused with its key
named and the old pipeline keeps running; a valid one replaces the pipeline, and an alert queued
before the reload is still delivered after it.

The COCO model stands in for the gun model (`person` counts), as in test_run_service.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..support.wait import wait_for
from ..support.webhook_receiver import WebhookReceiver


def config_text(state: Path, folder: Path, cfg: Path, url: str, extra: str = "") -> str:
    return f"""
state_dir: {state}
metrics: {{enabled: false}}
detector: {{backend: opencv, model: {cfg}, confidence: 0.3}}
sources:
  - {{type: folder, paths: [{folder}], settle_s: 0.2}}
defaults:
  labels: [person]
  confirm: {{single_frame_confidence: 0.8}}
alerts:
  retry: {{initial_s: 0.3, max_s: 0.5, jitter: 0}}
  policy: {{recipient_interval_s: 0}}
  channels:
    hook: {{type: webhook, url: "{url}"}}
{extra}"""


def test_sighup_reloads_and_keeps_queued_alerts(tmp_path, coco_tiny_cfg, sample_photos):
    first, second, state = tmp_path / "first", tmp_path / "second", tmp_path / "state"
    (first / "door").mkdir(parents=True)
    (second / "yard").mkdir(parents=True)
    config = tmp_path / "gunwatch.yml"
    person = next(p for p in sample_photos if p.name == "person.jpg").read_bytes()
    log_path = tmp_path / "gunwatch.log"
    with WebhookReceiver() as hook:
        hook.statuses = [503] * 10_000          # the receiver is down: the alert stays queued
        url = f"{hook.url}/gunwatch"
        config.write_text(config_text(state, first, coco_tiny_cfg, url))
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config)],
                                       stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ))
        text = lambda: log_path.read_text(errors="replace")  # noqa: E731
        try:
            assert wait_for(lambda: "watching" in text()), text()
            (first / "door" / "person.jpg").write_bytes(person)
            assert wait_for(lambda: len(hook.statuses) < 10_000 - 1), "the alert was never attempted"

            # A broken file: refused, named, and the service goes on. (A second `defaults:`
            # would be refused as a duplicate key, so the typo goes under a camera.)
            config.write_text(config_text(state, first, coco_tiny_cfg, url, "cameras:\n  door: {labls: [x]}\n"))
            process.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "reload of" in text()), text()
            assert "still running the previous config" in text() and "labls" in text()
            assert process.poll() is None

            # A valid file with another folder: the new folder is watched, the old one is not.
            config.write_text(config_text(state, second, coco_tiny_cfg, url))
            process.send_signal(signal.SIGHUP)
            assert wait_for(lambda: "reloaded" in text()), text()
            hook.statuses.clear()               # the receiver is back
            delivered = wait_for(lambda: hook.received, 30)
            assert delivered and delivered[0]["body"]["incident"]["camera"] == "door", text()

            (second / "yard" / "person.jpg").write_bytes(person)
            incidents = state / "incidents.jsonl"
            opened = lambda: [json.loads(x) for x in incidents.read_text().splitlines()  # noqa: E731
                              if json.loads(x)["kind"] == "opened"]
            assert wait_for(lambda: len(opened()) == 2), opened()
            assert opened()[1]["camera"] == "yard"
            assert wait_for(lambda: len(hook.received) == 2), text()
        finally:
            process.terminate()
            assert process.wait(timeout=30) == 0, text()
    assert "Traceback" not in text(), text()
