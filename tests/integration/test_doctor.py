"""`gunwatch doctor`: every check against the real thing where one exists here (config files,
the shipped model and libdarknet, folders, a video file as a stream, Mosquitto), and a local
stand-in for Twilio's account endpoint (Twilio itself is out of reach)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gunwatch.doctor import Doctor

from ..conftest import REPO, need
from ..support.fake_twilio import FakeTwilio

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "doctor-test-token"


def doctor(tmp_path: Path, body: str, env_file: Path | None = None) -> dict[str, list]:
    """Run every check on a config; results by check name."""
    (tmp_path / "state").mkdir(exist_ok=True)
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n{body}")
    by_name: dict[str, list] = {}
    for r in Doctor(str(config), env_file).run():
        by_name.setdefault(r.check, []).append(r)
    return by_name


FOLDER = "sources:\n  - {type: folder, paths: [%s]}\n"


# ------------------------------------------------------------------ broken configs name the key
@pytest.mark.parametrize("body, key", [
    ("detector:\n  backnd: opencv\n", "detector.backnd: Extra inputs are not permitted"),
    ("detector:\n  confidence: high\n", "detector.confidence: Input should be a valid number"),
    ("detector:\n  confidence: 1.5\n", "detector.confidence: Input should be less than or equal to 1"),
    ("log_level: LOUD\n", "log_level: Input should be"),
    ("sources:\n  - {type: folder}\n", "sources.0.folder.paths: Field required"),
    ("sources:\n  - {type: stream, camera: yard, url: x, fps: fast}\n", "sources.0.stream.fps: Input should be a valid number"),
    ("sources:\n  - {type: nvr}\n", "sources.0: Input tag 'nvr' found using 'type' does not match"),
    ("sources:\n  - {type: zoneminder, password: x}\n", "sources.0.zoneminder: Value error, password is set but user is not"),
    ("metrics:\n  port: 70000\n", "metrics.port: Input should be less than 65536"),
    ("alerts:\n  channels:\n    sms: {type: twilio_sms, account_sid: %s, auth_token: t, from_number: '555', "
     "recipients: ['+15551234567']}\n" % SID, "alerts.channels.sms.twilio_sms.from_number: Value error, must be an E.164"),
    ("alerts:\n  channels:\n    sms: {type: twilio_sms, account_sid: %s, auth_token: '${GW_DOCTOR_NOPE}', "
     "from_number: '+15550000100', recipients: ['+15551234567']}\n" % SID,
     "alerts.channels.sms.auth_token: environment variable GW_DOCTOR_NOPE is not set"),
    ("alerts:\n  channels:\n    sms: {type: twilio_sms, account_sid: AC12, auth_token: t, "
     "from_number: '+15550000100', recipients: ['+15551234567']}\n", "alerts.channels.sms.twilio_sms.account_sid: String should match"),
    ("alerts:\n  channels:\n    pager: {type: pager}\n", "alerts.channels.pager: Input tag 'pager'"),
    ("defaults:\n  confirm: {hits: many}\n", "defaults.confirm.hits: Input should be a valid integer"),
    ("cameras: [door]\n", "cameras: Input should be a valid dictionary"),
])
def test_broken_config_fails_naming_the_key(tmp_path, monkeypatch, body, key):
    monkeypatch.delenv("GW_DOCTOR_NOPE", raising=False)
    result = doctor(tmp_path, body)["config"][0]
    assert result.state == "FAIL"
    assert key in result.detail, result.detail
    assert "gunwatch config check" in result.fix


def test_secret_from_the_service_environment_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_DOCTOR_DIR", "")   # so that teardown removes what the file sets
    monkeypatch.delenv("GW_DOCTOR_DIR")
    env_file = tmp_path / "environment"
    env_file.write_text(f"# secrets\nGW_DOCTOR_DIR='{tmp_path}'\n")
    results = doctor(tmp_path, FOLDER % '"${GW_DOCTOR_DIR}"', env_file)
    assert results["config"][0].state == "OK", results["config"]
    assert results["sources.0 (folder)"][0].state == "OK"


def test_no_source_and_missing_state_dir_fail(tmp_path):
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {tmp_path / 'nowhere'}\n")
    results = {r.check: r for r in Doctor(str(config), None).run()}
    assert results["config"].state == "FAIL" and "no source configured" in results["config"].detail
    assert results["state_dir"].state == "FAIL" and "does not exist" in results["state_dir"].detail


# ------------------------------------------------------------------ detector and model
def test_model_finds_the_drawn_pistol_and_darknet_is_described(tmp_path):
    need(Path("/usr/lib/darknet/libdarknet.so").exists(), "no Debian libdarknet (apt-get install darknet)")
    results = doctor(tmp_path, "detector: {backend: opencv}\n" + FOLDER % tmp_path)
    model = results["model"][0]
    assert model.state == "OK" and "finds gun" in model.detail, model
    darknet = results["darknet"][0]
    assert darknet.state == "OK" and "pjreddie API, version not exported" in darknet.detail
    assert "CPU build" in darknet.detail


def test_model_without_the_counted_label_fails(tmp_path):
    results = doctor(tmp_path, "detector: {backend: opencv}\ndefaults: {labels: [knife]}\n" + FOLDER % tmp_path)
    assert results["model"][0].state == "FAIL" and "finds no knife" in results["model"][0].detail


def test_person_model_is_tried_when_a_camera_may_use_person_regions(tmp_path):
    ran = doctor(tmp_path, FOLDER % tmp_path)["person_model"][0]  # the default, auto
    assert ran.state == "OK" and "person-yolov4-tiny (" in ran.detail and " ms " in ran.detail, ran
    missing = doctor(tmp_path, "detector: {person_model: /nowhere/person}\n" + FOLDER % tmp_path)["person_model"][0]
    assert missing.state == "FAIL" and missing.detail.startswith("detector.person_model:"), missing
    assert "regions.modes" in missing.fix
    whole = doctor(tmp_path, "detector: {person_model: /nowhere/person}\ndefaults: {regions: {modes: [whole]}}\n"
                   + FOLDER % tmp_path)["person_model"][0]
    assert whole.state == "OK" and "no camera uses person regions" in whole.detail


def test_drawn_pistol_is_small_and_drawn():
    image = REPO / "models" / "drawn-pistol.jpg"
    assert image.stat().st_size < 100_000
    assert cv2.imread(str(image)).shape == (480, 640, 3)


# ------------------------------------------------------------------ sources
def test_missing_folder_and_unreadable_stream_fail(tmp_path):
    results = doctor(tmp_path, f"""sources:
  - {{type: folder, paths: [{tmp_path / 'absent'}]}}
  - {{type: stream, camera: yard, url: "rtsp://viewer:hunter2@127.0.0.1:1/stream", timeout_s: 1}}
""")
    folder, stream = results["sources.0 (folder)"][0], results["sources.1 (stream)"][0]
    assert folder.state == "FAIL" and "absent is not a folder" in folder.detail
    assert stream.state == "FAIL" and "rtsp://viewer:***@127.0.0.1:1/stream" in stream.detail
    assert "hunter2" not in stream.detail + stream.fix


def test_video_file_stream_opens(tmp_path):
    video = tmp_path / "cam.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (320, 240))
    for i in range(5):
        writer.write(np.full((240, 320, 3), i * 40, np.uint8))
    writer.release()
    results = doctor(tmp_path, f"sources:\n  - {{type: stream, camera: yard, url: {video}}}\n")
    stream = results["sources.0 (stream)"][0]
    assert stream.state == "OK" and "320x240" in stream.detail, stream


@pytest.mark.mqtt
def test_mqtt_broker_accepts_and_a_closed_port_fails(tmp_path):
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=1).close()
    except OSError:
        need(False, "no MQTT broker at 127.0.0.1:1883 (Mosquitto)")
    results = doctor(tmp_path, FOLDER % tmp_path + """alerts:
  channels:
    up: {type: mqtt, host: 127.0.0.1, port: 1883}
    down: {type: mqtt, host: 127.0.0.1, port: 1}
""")
    assert results["alerts.channels.up (mqtt)"][0].state == "OK"
    down = results["alerts.channels.down (mqtt)"][0]
    assert down.state == "FAIL" and "cannot connect to 127.0.0.1:1" in down.detail


# ------------------------------------------------------------------ Twilio and the clock
def twilio_accounts(skew_s: float = 0.0) -> FakeTwilio:
    """The Twilio stand-in of the alert tests, with this test's credentials."""
    return FakeTwilio(account_sid=SID, auth_token=TOKEN, clock_skew_s=skew_s)


def twilio_config(url: str, token: str) -> str:
    return f"""alerts:
  channels:
    sms:
      type: twilio_sms
      account_sid: {SID}
      auth_token: {token}
      from_number: "+1 (555) 000-0100"
      recipients: ["+15551234567", "+15557654321"]
      api_url: {url}
"""


@pytest.mark.parametrize("token, api_path, state, words", [
    (TOKEN, "", "OK", "Twilio account active; 3 numbers in E.164"),
    ("wrong-token", "", "FAIL", "Twilio refuses account_sid"),
    (TOKEN, "/not-twilio", "FAIL", f"no account {SID} at "),   # a wrong api_url or account SID
])
def test_twilio_credentials(tmp_path, token, api_path, state, words):
    with twilio_accounts() as twilio:
        config = twilio_config(twilio.base_url + api_path, token)
        result = doctor(tmp_path, FOLDER % tmp_path + config)["alerts.channels.sms (twilio_sms)"][0]
    assert result.state == state and words in result.detail, result
    assert token not in result.detail + result.fix
    if api_path:
        assert "check account_sid" in result.fix and "api_url" in result.fix and "active" not in result.fix


def test_clock_far_from_a_peers_clock_fails(tmp_path):
    with twilio_accounts(skew_s=3600) as twilio:
        results = doctor(tmp_path, FOLDER % tmp_path + twilio_config(twilio.base_url, TOKEN))
    clock = results["clock"][0]
    assert clock.state == "FAIL" and "behind twilio's" in clock.detail and "NTP" in clock.fix


def test_cli_exit_status_and_fix_lines(tmp_path):
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {tmp_path}\n" + FOLDER % (tmp_path / "absent"))
    result = subprocess.run([sys.executable, "-m", "gunwatch", "--log-level", "ERROR", "doctor",
                             "--config", str(config)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "FAIL  sources.0 (folder):" in result.stdout and "      fix: create it" in result.stdout
    assert result.stdout.splitlines()[-1].endswith("1 failed")
