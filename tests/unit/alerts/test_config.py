"""Alert configuration: phone numbers, secrets, times written in YAML, channel types, checks."""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from gunwatch.alerts.config import AlertsConfig
from gunwatch.alerts.settings import RetryConfig, check_retry_bounds
from gunwatch.config import parse_config
from gunwatch.errors import ConfigError

SID = "AC" + "0123456789abcdef" * 2


def sms_yaml(recipients: str, extra: str = "") -> str:
    return f"""
alerts:
  channels:
    oncall:
      type: twilio_sms
      account_sid: {SID}
      auth_token: ${{GW_TEST_TOKEN}}
      from_number: "+1 (555) 000-1111"
      recipients: {recipients}
{extra}"""


def test_numbers_are_normalised_to_e164_and_times_read_from_yaml(monkeypatch):
    monkeypatch.setenv("GW_TEST_TOKEN", "tok-123")
    text = sms_yaml('["+44 20 7946 0958", {to: "+15551234567", quiet_hours: [{start: 22:00, end: "07:00"}]}]')
    channel = parse_config(text).alerts.channels["oncall"]
    assert channel.from_number == "+15550001111"
    assert [r.to for r in channel.recipients] == ["+442079460958", "+15551234567"]
    window = channel.recipients[1].quiet_hours[0]
    # Unquoted 22:00 is the YAML 1.1 integer 1320; it must still mean ten at night.
    assert (window.start, window.end) == (time(22, 0), time(7, 0))
    assert channel.auth_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(channel)


@pytest.mark.parametrize("number", ["5551234567", "+0123456789", "+1555", "+1555123456789012"])
def test_invalid_number_names_the_key(monkeypatch, number):
    monkeypatch.setenv("GW_TEST_TOKEN", "x")
    with pytest.raises(ConfigError) as exc:
        parse_config(sms_yaml(f'["{number}"]'))
    message = str(exc.value)
    assert "alerts.channels.oncall" in message and "recipients.0.to" in message
    assert "E.164" in message


def test_secret_values_never_appear_in_errors():
    text = sms_yaml('["+15551234567"]').replace("${GW_TEST_TOKEN}", "[not, a, string]")
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert "auth_token" in str(exc.value)
    assert "not, a, string" not in str(exc.value).replace("'", "")


def test_unknown_channel_type_lists_the_choices():
    with pytest.raises(ConfigError) as exc:
        parse_config("alerts:\n  channels:\n    x: {type: pager}\n")
    assert "alerts.channels.x" in str(exc.value)
    assert "twilio_sms" in str(exc.value) and "webhook" in str(exc.value)


def test_misspelt_key_is_an_error():
    with pytest.raises(ConfigError) as exc:
        parse_config("alerts:\n  policy:\n    camera_cooldown: 30\n")
    assert "alerts.policy.camera_cooldown" in str(exc.value)


def test_check_retry_bounds():
    check_retry_bounds(RetryConfig(initial_s=1, max_s=1))
    with pytest.raises(ValueError, match="max_s"):
        check_retry_bounds(RetryConfig.model_construct(initial_s=10, max_s=1))
    with pytest.raises(ConfigError) as exc:
        parse_config("alerts:\n  retry: {initial_s: 10, max_s: 1}\n")
    assert "alerts.retry" in str(exc.value)


def test_channel_names_and_time_zone_are_checked():
    with pytest.raises(ValidationError, match="channel name"):
        AlertsConfig.model_validate({"channels": {"Bad Name": {"type": "webhook", "url": "http://x"}}})
    with pytest.raises(ValidationError, match="IANA"):
        AlertsConfig(timezone="Mars/Olympus")


def test_destinations_per_channel_kind():
    alerts = AlertsConfig.model_validate({"channels": {
        "hook": {"type": "webhook", "url": "https://example.org/hook"},
        "bus": {"type": "mqtt", "topic": "site/{camera}/gun"},
        "mail": {"type": "email", "host": "smtp.example.org", "from_address": "gw@example.org",
                 "recipients": ["guard@example.org"]}}})
    assert alerts.channels["hook"].destinations("c") == [("https://example.org/hook", None)]
    # Topic wildcards or separators in a camera name must not change the topic.
    assert alerts.channels["bus"].destinations("gate/1 #") == [("site/gate_1__/gun", None)]
    [(address, rules)] = alerts.channels["mail"].destinations("c")
    assert address == "guard@example.org" and not rules.has_rules
    with pytest.raises(ValidationError, match="e-mail address"):
        AlertsConfig.model_validate({"channels": {"mail": {
            "type": "email", "host": "h", "from_address": "nobody", "recipients": ["a@b.org"]}}})


def test_example_config_channels_are_valid_when_uncommented(monkeypatch):
    """Every channel example in install/gunwatch.example.yml must work once uncommented."""
    for name in ("TWILIO_AUTH_TOKEN", "GUNWATCH_WEBHOOK_SECRET", "MQTT_PASSWORD", "SMTP_PASSWORD",
                 "YARD_PASSWORD"):
        monkeypatch.setenv(name, "x")
    text = (Path(__file__).resolve().parents[3] / "install" / "gunwatch.example.yml").read_text()
    before, _, alerts = text.partition("\nalerts:\n")
    settings, _, channels = alerts.partition("  channels:")
    uncommented = "\n".join(re.sub(r"^    # ?", "    ", line) for line in channels.splitlines())
    config = parse_config(f"{before}\nalerts:\n{settings}  channels:{uncommented}")
    assert {name: c.type for name, c in config.alerts.channels.items()} == {
        "oncall_sms": "twilio_sms", "oncall_call": "twilio_voice", "home_assistant": "webhook",
        "bus": "mqtt", "guards_mail": "email"}
    assert config.alerts.channels["oncall_call"].escalate
    assert parse_config(text).alerts.channels == {}          # as shipped: all commented out
