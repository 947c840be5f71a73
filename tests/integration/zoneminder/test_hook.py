"""`gunwatch zm-hook` run the way zmeventnotification (and ZoneMinder 1.37's EventStartCommand)
runs a hook, on events a real ZoneMinder recorded: the answer line, the exit status, and
objdetect.jpg / objects.json in the event folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from .conftest import MONITOR

pytestmark = pytest.mark.zoneminder


def hook(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", "zm-hook", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120)


def test_hook_answers_as_zmeventnotification_expects(zoneminder, subject, tmp_path):
    zm = zoneminder
    gun = zm.record(subject.guns[0])
    clean = zm.record(subject.clean[0])
    gun_event, clean_event = zm.wait_closed(gun), zm.wait_closed(clean)
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"""
state_dir: {tmp_path / "state"}
detector: {{backend: opencv, model: {subject.model}, confidence: {subject.confidence_yaml}}}
sources:
  - type: zoneminder
    url: {zm.url}
defaults:
  labels: [{subject.label}]
""")

    # zmeventnotification's event_start_hook: EID MID "MONITOR NAME" "CAUSE" [EVENT PATH]
    folder = Path(gun_event["FileSystemPath"])
    found = hook(config, str(gun), str(zm.monitor_id), MONITOR, "Forced Web", str(folder))
    assert found.returncode == 0, found.stderr[-3000:]
    lines = found.stdout.splitlines()
    assert len(lines) == 1, found.stdout          # nothing else on stdout: it is the answer
    text, payload = lines[0].split("--SPLIT--")
    assert re.fullmatch(rf"\[[asx]\] detected:{subject.label}:\d+% ", text), text
    answer = json.loads(payload)
    assert set(answer) == {"labels", "boxes", "frame_id", "confidences", "image_dimensions"}
    assert answer["labels"][0] == subject.label and answer["image_dimensions"]["original"] == [480, 640]
    # the same detection beside the event, as pyzm writes it, and the annotated frame
    assert json.loads((folder / "objects.json").read_text()) == answer
    assert cv2.imread(str(folder / "objdetect.jpg")).shape[:2] == (480, 640)
    # without --notes the hook leaves Notes to zmeventnotification
    assert zm.event(gun)["Notes"] == "Forced Web: "

    # ZoneMinder 1.37's EventStartCommand style (%EID% %MID% %EC%), with --notes, gun-free event
    nothing = hook(config, str(clean), str(zm.monitor_id), "Forced Web", "--notes")
    assert nothing.returncode == 1, nothing.stderr[-3000:]
    assert nothing.stdout == ""
    assert zm.event(clean)["Notes"] == "Forced Web: "
    assert not (Path(clean_event["FileSystemPath"]) / "objdetect.jpg").exists()

    # --notes on the gun event writes them as the service does
    noted = hook(config, str(gun), str(zm.monitor_id), "--notes")
    assert noted.returncode == 0, noted.stderr[-3000:]
    assert re.match(rf"^{subject.label} \d+% \[gunwatch\] \| Forced Web: $", zm.event(gun)["Notes"])

    # an event that does not exist: an error naming it, exit 4 (recorder), no answer line
    missing = hook(config, "999999", str(zm.monitor_id))
    assert missing.returncode == 4 and missing.stdout == ""
    assert "event 999999 does not exist" in missing.stderr
