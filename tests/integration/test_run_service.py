"""`gunwatch run` as an admin starts it: a config file, a watched snapshot folder, the real
detector; pictures dropped into the folder become incidents in the incident log.

The COCO model stands in for the gun model here, with `person` as the class that counts, so the
test does not depend on the trained gun model's accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import urllib.error
import urllib.request

import pytest

from ..support.ports import free_port
from ..support.wait import wait_for


@pytest.fixture
def service(tmp_path, coco_tiny_cfg):
    watched = tmp_path / "snapshots"
    (watched / "frontdoor").mkdir(parents=True)
    state = tmp_path / "state"
    config = tmp_path / "gunwatch.yml"
    metrics_port = free_port()
    config.write_text(f"""
state_dir: {state}
metrics: {{port: {metrics_port}}}
detector:
  backend: opencv
  model: {coco_tiny_cfg}
  confidence: 0.3
sources:
  - type: folder
    paths: [{watched}]
    settle_s: 0.2
defaults:
  labels: [person]
  confirm:
    single_frame_confidence: 0.8
""")
    process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config), "--for", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    deadline = time.monotonic() + 30
    log_lines = []
    while time.monotonic() < deadline:  # wait until the folder is watched
        line = process.stderr.readline()
        log_lines.append(line)
        if "watching" in line:
            break
    yield watched, state, process, metrics_port
    process.terminate()
    process.wait(timeout=20)


def logged(path) -> list:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def incidents_logged(path, count, timeout=30.0) -> list:
    """The incident log's lines once it holds `count` (what it holds after `timeout` s otherwise)."""
    wait_for(lambda: len(logged(path)) >= count, timeout)
    return logged(path)


def test_dropped_pictures_become_incidents(service, sample_photos):
    watched, state, process, metrics_port = service
    by_name = {p.name: p for p in sample_photos}
    (watched / "frontdoor" / "eagle.jpg").write_bytes(by_name["eagle.jpg"].read_bytes())  # no person
    (watched / "frontdoor" / "person.jpg").write_bytes(by_name["person.jpg"].read_bytes())
    lines = incidents_logged(state / "incidents.jsonl", 1)
    assert len(lines) == 1, lines
    incident = lines[0]
    assert incident["kind"] == "opened" and incident["camera"] == "frontdoor"
    assert incident["label"] == "person" and incident["confidence"] >= 0.8
    assert incident["origin"].endswith("person.jpg")
    assert os.path.exists(incident["snapshot"])
    time.sleep(1.0)
    assert len(incidents_logged(state / "incidents.jsonl", 1)) == 1  # the eagle raised nothing
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    assert 'gunwatch_frames_total{camera="frontdoor"} 2' in metrics
    assert "gunwatch_incidents_total 1" in metrics
    assert 'gunwatch_detector_seconds_count 2' in metrics
    assert f'gunwatch_source_up{{source="folder:{watched}"}} 1' in metrics
    health = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5)
    assert health.status == 200 and health.read() == b"ok\n"
    process.terminate()
    assert process.wait(timeout=20) == 0  # SIGTERM is a clean stop


def test_config_error_names_the_key(tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text("sources:\n  - type: folder\n    pathz: [/tmp]\n")
    result = subprocess.run([sys.executable, "-m", "gunwatch", "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "sources.0.folder.pathz: Extra inputs are not permitted" in result.stderr
    assert "sources.0.folder.paths: Field required" in result.stderr


def test_incident_reaches_twilio_sms_end_to_end(tmp_path, coco_tiny_cfg, sample_photos):
    """folder source -> detector -> confirmation -> outbox -> real twilio client -> local Twilio."""
    from ..support.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

    watched, state = tmp_path / "in", tmp_path / "state"
    watched.mkdir()
    with FakeTwilio() as twilio:
        config = tmp_path / "gunwatch.yml"
        config.write_text(f"""
state_dir: {state}
metrics: {{port: {free_port()}}}
detector: {{backend: opencv, model: {coco_tiny_cfg}, confidence: 0.3}}
sources: [{{type: folder, paths: [{watched}], camera: lobby, settle_s: 0.1}}]
defaults: {{labels: [person], confirm: {{single_frame_confidence: 0.8}}}}
alerts:
  channels:
    oncall:
      type: twilio_sms
      account_sid: {ACCOUNT_SID}
      auth_token: ${{TEST_TWILIO_TOKEN}}
      from_number: "+15550000100"
      recipients: ["+15551234567"]
      api_url: {twilio.url}
""")
        env = dict(os.environ, TEST_TWILIO_TOKEN=AUTH_TOKEN)
        process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config), "--for", "60"],
                                   stderr=subprocess.PIPE, text=True, env=env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "watching" not in process.stderr.readline():
                pass
            (watched / "person.jpg").write_bytes(next(p for p in sample_photos if p.name == "person.jpg").read_bytes())
            wait_for(twilio.sms, 30)
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=30)
    messages = twilio.sms()
    assert len(messages) == 1, stderr[-2000:]
    assert messages[0].to == "+15551234567" and "lobby" in messages[0].body
    assert AUTH_TOKEN not in stderr  # never logged
