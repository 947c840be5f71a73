"""The commands as a careless environment runs them: real processes, real files. No secret in the
service log after a bad reload, `config check` and `run` agree on every broken file, `detect`
neither hangs on a FIFO nor prints a traceback for an unwritable --out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.hostile import encoded, yaml_billion_laughs, yaml_deep
from ..support.wait import wait_for

TOKEN = "tw-token-0123456789abcdef"


def gunwatch(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


BROKEN = {
    "empty.yml": b"",
    "comments.yml": b"# everything still commented out\n",
    "duplicate.yml": b"sources: []\nsources: []\n",
    "latin1.yml": b"cameras:\n  caf\xe9: {}\n",
    "laughs.yml": yaml_billion_laughs().encode(),
    "deep.yml": yaml_deep(10_000).encode(),
    "secret-typo.yml": b"sources:\n  - type: zoneminderr\n    password: ${ZM_PW}\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_config_check_and_run_agree(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BROKEN[name])
    env = {"ZM_PW": TOKEN}
    check = gunwatch("config", "check", "--config", str(path), env=env, timeout=60)
    run = gunwatch("run", "--config", str(path), "--for", "1", env=env, timeout=60)
    assert check.returncode == run.returncode == 2, (check.stderr, run.stderr)
    # the same problem (run's "no source" message comes from the app, without the file name)
    assert run.stderr.splitlines()[-1].split("error: ", 1)[1] in check.stderr.splitlines()[-1]
    for result in (check, run):
        assert "Traceback" not in result.stderr and TOKEN not in result.stderr


def test_bad_reload_writes_no_secret_to_the_log(tmp_path, coco_tiny_cfg):
    folder, config, log_path = tmp_path / "in", tmp_path / "gunwatch.yml", tmp_path / "gunwatch.log"
    folder.mkdir()
    base = (f"state_dir: {tmp_path / 'state'}\nmetrics: {{enabled: false}}\n"
            f"detector: {{backend: opencv, model: {coco_tiny_cfg}}}\n"
            f"sources:\n  - {{type: folder, paths: [{folder}]}}\n")
    config.write_text(base)
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config)],
                                   stdout=subprocess.DEVNULL, stderr=log,
                                   env={**os.environ, "TWILIO_AUTH_TOKEN": TOKEN})
    text = lambda: log_path.read_text(errors="replace")  # noqa: E731
    try:
        assert wait_for(lambda: "watching" in text()), text()
        config.write_text(base + "alerts:\n  channels:\n    sms:\n      type: twilio_smss\n"
                          "      auth_token: ${TWILIO_AUTH_TOKEN}\n")
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload of" in text()), text()
        assert "alerts.channels.sms" in text() and process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert TOKEN not in text()


def test_detect_out_unwritable_is_exit_4_without_traceback(tmp_path, coco_tiny_cfg):
    picture = tmp_path / "a.jpg"
    picture.write_bytes(encoded(".jpg", 320, 240))
    result = gunwatch("detect", str(picture), "--model", str(coco_tiny_cfg), "--backend", "opencv",
                      "--out", "/dev/null/x")
    assert result.returncode == 4, result.stderr
    assert "Traceback" not in result.stderr and "--out /dev/null/x: cannot create the folder" in result.stderr


def test_detect_fifo_and_hostile_pictures_fail_without_hanging(tmp_path, coco_tiny_cfg):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.jpg")
    (folder / "wide.jpg").write_bytes(encoded(".jpg", 4000, 1))
    (folder / "tall.png").write_bytes(encoded(".png", 1, 4000))
    (folder / "ok.jpg").write_bytes(encoded(".jpg", 320, 240))
    result = gunwatch("detect", str(folder / "pipe.jpg"), str(folder / "wide.jpg"), str(folder / "tall.png"),
                      str(folder / "ok.jpg"), "--model", str(coco_tiny_cfg), "--backend", "opencv",
                      "--out", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "3 inputs failed" in result.stderr and "Traceback" not in result.stderr
    assert "not a regular file" in result.stderr and "side under 2 pixels" in result.stderr
    assert (tmp_path / "out" / "ok.jpg").exists()
