"""Commands started by hand resolve ${VAR} secrets as the service does: from the process's
environment, then the `environment` file beside the config (issue 26: before, only doctor read
it, and `config check`, `alerts`, `alert test` and `run` exited 2 on ${TWILIO_AUTH_TOKEN})."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TWILIO_CONFIG = """state_dir: {state}
sources:
  - {{type: folder, paths: [{state}]}}
alerts:
  channels:
    sms: {{type: twilio_sms, account_sid: AC0123456789abcdef0123456789abcdef,
          auth_token: '${{GW_HAND_TOKEN}}', from_number: '+15550000100', recipients: ['+15551234567']}}
"""


def gunwatch(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GW_HAND_TOKEN"}
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "gunwatch.yml").write_text(TWILIO_CONFIG.format(state=tmp_path / "state"))
    (tmp_path / "environment").write_text("GW_HAND_TOKEN=token-from-the-file\n")
    return tmp_path


@pytest.mark.parametrize("command", [["config", "check"], ["alerts"]])
def test_commands_read_the_environment_file_beside_the_config(etc, command):
    result = gunwatch(*command, "--config", str(etc / "gunwatch.yml"))
    assert result.returncode == 0, result.stderr
    assert "token-from-the-file" not in result.stdout + result.stderr


def test_env_file_option_and_its_absence(etc):
    (etc / "environment").rename(etc / "secrets.env")
    missing = gunwatch("config", "check", "--config", str(etc / "gunwatch.yml"))
    assert missing.returncode == 2
    assert "environment variable GW_HAND_TOKEN is not set" in missing.stderr
    named = gunwatch("config", "check", "--config", str(etc / "gunwatch.yml"), "--env-file", str(etc / "secrets.env"))
    assert named.returncode == 0, named.stderr
