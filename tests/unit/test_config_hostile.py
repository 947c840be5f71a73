"""A careless or hostile config file: no secret in any error, every error at once, bounded YAML,
duplicate keys, encodings, and `config check` agreeing with `run`."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gunwatch import safe_yaml
from gunwatch.cli import main
from gunwatch.config import load_config, parse_config
from gunwatch.errors import ConfigError

from ..support.hostile import yaml_billion_laughs, yaml_deep

# Shared CPUs: a slow example is not a failure of the code under test.
SLOW_MACHINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

TOKEN = "tw-0123456789abcdef-secret"
PASSWORD = "zm-pa55-word-xyz"
HOOK = "whsec-abcdef0123"


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("ZM_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOOK_SECRET", HOOK)


TWILIO = ("account_sid: AC0123456789abcdef0123456789abcdef\n      auth_token: ${TWILIO_AUTH_TOKEN}\n"
          "      from_number: '+15550001111'\n      recipients: ['+15550002222']\n")

MISTAKES = {
    "unknown channel type": "alerts:\n  channels:\n    sms:\n      type: twilio_smss\n      " + TWILIO,
    "misspelt channel key": "alerts:\n  channels:\n    sms:\n      type: twilio_sms\n      recipient: x\n      " + TWILIO,
    "channels as a list": "alerts:\n  channels:\n    - type: webhook\n      url: http://h/x\n      secret: ${HOOK_SECRET}\n",
    "webhook secret, bad url": "alerts:\n  channels:\n    hook:\n      type: webhook\n      url: notaurl\n      secret: ${HOOK_SECRET}\n",
    "type zoneminderr": "sources:\n  - type: zoneminderr\n    user: admin\n    password: ${ZM_PASSWORD}\n",
    "misspelt password key": "sources:\n  - type: zoneminder\n    user: admin\n    passwd: ${ZM_PASSWORD}\n",
    "secret in a wrong-typed key": "sources:\n  - type: zoneminder\n    user: admin\n    timeout_s: ${ZM_PASSWORD}\n",
    "secret as a literal": f"sources:\n  - type: zoneminder\n    password: {PASSWORD}\n    pasword: {PASSWORD}\n",
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_no_secret_in_any_config_error(secrets, name):
    with pytest.raises(ConfigError) as exc:
        parse_config(MISTAKES[name], "gunwatch.yml")
    message = str(exc.value)
    assert "gunwatch.yml: " in message
    for secret in (TOKEN, PASSWORD, HOOK):
        assert secret not in message


def test_config_check_prints_no_secret(secrets, tmp_path, capsys):
    path = tmp_path / "gunwatch.yml"
    path.write_text(MISTAKES["type zoneminderr"])
    assert main(["config", "check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sources.0" in err and PASSWORD not in err


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.delenv("GW_UNSET_A", raising=False)
    monkeypatch.delenv("GW_UNSET_B", raising=False)
    text = ("log_level: LOUD\ndetector:\n  model: ${GW_UNSET_A}\n  backnd: x\n"
            "sources:\n  - type: stream\n    camera: c\n    url: ${GW_UNSET_B}\n")
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "g.yml")
    message = str(exc.value)
    for expected in ("GW_UNSET_A", "GW_UNSET_B", "log_level", "detector.backnd"):
        assert expected in message
    assert len(message.splitlines()) == 4


def test_billion_laughs_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases"):
        parse_config(yaml_billion_laughs())
    assert time.monotonic() - started < 5


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(ConfigError, match="nested more than"):
        parse_config(yaml_deep(10_000))


def test_ordinary_anchors_and_merge_keys_still_work(tmp_path):
    config = parse_config(f"state_dir: {tmp_path}\ndefaults: &d\n  min_area: 0.01\n"
                          "cameras:\n  a:\n    <<: *d\n    confidence: 0.5\n  b: *d\n")
    assert config.camera("a").min_area == 0.01 and config.camera("b").min_area == 0.01


def test_duplicate_keys_are_refused_with_both_lines():
    with pytest.raises(ConfigError, match=r"line 3, column 1: key 'sources' appears twice \(first at line 1\)"):
        parse_config("sources: []\nlog_level: INFO\nsources: []\n")


def test_latin1_byte_is_named_with_its_position(tmp_path):
    path = tmp_path / "g.yml"
    path.write_bytes(b"log_level: INFO\ncameras:\n  caf\xe9: {}\n")
    with pytest.raises(ConfigError, match=r"line 3, column 6: byte 0xe9 is not UTF-8"):
        load_config(path)


def test_fifo_config_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "g.yml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)


def test_empty_config_check_and_run_agree(tmp_path):
    path = tmp_path / "empty.yml"
    path.write_text("# nothing yet\n")
    env = {**os.environ, "GUNWATCH_MODEL": "/nonexistent"}
    check = subprocess.run([sys.executable, "-m", "gunwatch", "config", "check", "--config", str(path)],
                           capture_output=True, text=True, timeout=60, env=env)
    assert check.returncode == 2 and "sources: no source configured" in check.stderr


@settings(max_examples=100, deadline=None, suppress_health_check=SLOW_MACHINE)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4),
                    max_leaves=30))
def test_safe_yaml_loads_what_yaml_writes(value):
    assert safe_yaml.load(yaml.safe_dump(value)) == value


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW_MACHINE)
@given(st.text(max_size=300))
def test_safe_yaml_raises_only_its_own_error(text):
    try:
        safe_yaml.load(text)
    except safe_yaml.YamlRefused as exc:
        assert str(exc)


@settings(max_examples=50, deadline=None, suppress_health_check=SLOW_MACHINE)
@given(st.integers(min_value=1, max_value=400))
def test_safe_yaml_depth_bound(depth):
    text = yaml_deep(depth)
    if depth + 1 <= safe_yaml.MAX_DEPTH:
        assert safe_yaml.load(text)["x"] is not None
    else:
        with pytest.raises(safe_yaml.YamlRefused, match="nested"):
            safe_yaml.load(text)


def test_impossible_date_is_a_config_error():
    with pytest.raises(ConfigError, match="month must be in 1..12"):
        parse_config("log_level: 2026-13-45\n")
