"""Escaping of values from outside for URLs, MQTT topics, file names and log lines; URL masking."""

from __future__ import annotations

import string
import urllib.parse

import pytest

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gunwatch.sources.stream import masked
from gunwatch.untrusted import file_name, log_field, masked_url, printable, topic_level, url_segment
from gunwatch.integrations.zoneminder.client import redact

# Shared CPUs: a slow example is not a failure of the code under test.
SLOW_MACHINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

EXAMPLES = settings(max_examples=200, deadline=None, suppress_health_check=SLOW_MACHINE)


def test_hostile_ids_stay_one_segment():
    for hostile in ("x/../../restart?", "../../etc/passwd", "..", ".", "a?b#c", "a%2Fb", "ok-1.5"):
        segment = url_segment(hostile)
        assert "/" not in segment and "?" not in segment and "#" not in segment
        assert segment not in (".", "..")
    assert url_segment("1607123955.475377-mxklsc") == "1607123955.475377-mxklsc"


@EXAMPLES
@given(st.text(min_size=1))
def test_url_segment_round_trips_and_never_leaves_its_segment(value):
    segment = url_segment(value)
    assert urllib.parse.unquote(segment) == value
    assert not set(segment) & set("/?#\\ \n")
    assert segment not in (".", "..")
    url = urllib.parse.urlsplit(f"http://frigate/api/events/{segment}/sub_label")
    assert url.path.split("/") == ["", "api", "events", segment, "sub_label"]
    assert not url.query and not url.fragment


def test_empty_value_is_no_segment():
    with pytest.raises(ValueError, match="empty"):
        url_segment("")


@EXAMPLES
@given(st.text())
def test_topic_level_has_no_separator_wildcard_or_control(value):
    level = topic_level(value)
    assert level and not set(level) & set("/+#\0\n\r\t ")
    assert all(ch.isprintable() for ch in level)


def test_topic_level_examples():
    assert topic_level("front+door") == "front_door"
    assert topic_level("a/b#") == "a_b_"
    assert topic_level("") == "_"


@EXAMPLES
@given(st.text())
def test_file_name_is_one_plain_name(value):
    name = file_name(value)
    assert name and "/" not in name and not name.startswith(".") and len(name) <= 100
    assert all(ch.isalnum() or ch in "._-" for ch in name)


@EXAMPLES
@given(st.text())
def test_log_field_is_one_line_and_one_field(value):
    field = log_field(value)
    assert "\n" not in field and "\r" not in field and "\u2028" not in field
    assert field == value or field.startswith('"') or len(value) > 200
    assert len(field) < 1000


def test_log_field_forged_line():
    assert log_field("cam\n2026-12-05 INFO gunwatch: all clear") == '"cam\\n2026-12-05 INFO gunwatch: all clear"'
    assert log_field("driveway") == "driveway"
    assert printable("cam\nx") == "cam_x"


# What a URL may carry in its userinfo and query without percent-encoding (RFC 3986).
_URL_SAFE = string.ascii_letters + string.digits + "-._~!$'()*+,;%"


@EXAMPLES
@given(user=st.text(alphabet="abcdefgh", min_size=1), password=st.text(alphabet=_URL_SAFE + "&=", min_size=6),
       token=st.text(alphabet=_URL_SAFE.replace("'", ""), min_size=6), scheme=st.sampled_from(["http", "https", "rtsp", "rtsps"]))
def test_masked_url_hides_any_password(user, password, token, scheme):
    expected = f"{scheme}://{user}:***@host:554/stream?token=***&x=1"
    assume(password not in expected and token not in expected and token not in password)
    url = f"{scheme}://{user}:{password}@host:554/stream?token={token}&x=1"
    shown = masked_url(url)
    assert password not in shown and token not in shown
    assert shown == expected


def test_one_masking_function_everywhere():
    url = "http://admin:hunter2@frigate:5000/api?token=abc123"
    assert masked(url) == redact(url) == masked_url(url) == \
        "http://admin:***@frigate:5000/api?token=***"
    assert masked_url("/videos/a.mp4") == "/videos/a.mp4"
    assert "s3cr3t" not in masked_url("login failed: user=admin&pass=s3cr3t")
