"""Frigate `events` messages are checked before use: types, id and camera shapes, size, nesting."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gunwatch.integrations.frigate.source import MAX_MESSAGE_BYTES, parse_event

from ..support.hostile import json_deep

# Shared CPUs: a slow example is not a failure of the code under test.
SLOW_MACHINE = [HealthCheck.too_slow, HealthCheck.data_too_large]


def message(**after) -> bytes:
    body = {"id": "1607123955.475377-mxklsc", "camera": "driveway", "label": "person", "end_time": None}
    return json.dumps({"type": "new", "before": body, "after": {**body, **after}}).encode()


def test_frigate_event_as_frigate_sends_it():
    event = parse_event(message())
    assert (event.type, event.after.id, event.after.camera, event.after.label) == \
        ("new", "1607123955.475377-mxklsc", "driveway", "person")


@pytest.mark.parametrize("payload, why", [
    (message(id=["a", "b"]), "after.id"),
    (message(id={"x": 1}), "after.id"),
    (message(camera={"name": "x"}), "after.camera"),
    (message(camera=7), "after.camera"),
    (message(id="x/../../restart?"), "after.id"),
    (message(id="../../etc/passwd"), "after.id"),
    (message(id=".."), "after.id"),
    (message(camera="front door\nINFO forged"), "after.camera"),
    (message(camera="a+b"), "after.camera"),
    (message(label=None), "after.label"),
    (message(end_time="soon"), "after.end_time"),
    (json.dumps({"type": "new"}).encode(), "after"),
    (json.dumps({"type": "delete", "after": {}}).encode(), "type"),
    (json.dumps([1, 2]).encode(), "(top level)"),
    (json_deep(100_000), "nested deeper"),
    (json_deep(40), "nested deeper"),
    (b"\xe9\xff", "not JSON"),
    (b"not json", "not JSON"),
    (b" " * (MAX_MESSAGE_BYTES + 1), "bytes"),
])
def test_hostile_messages_are_refused_with_a_reason(payload, why):
    with pytest.raises(ValueError, match=r".*" + why.replace("(", r"\(").replace(")", r"\)")):
        parse_event(payload)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_subnormal=False) | st.text(),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                     max_leaves=40)


@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_MACHINE)
@given(st.one_of(_JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                 st.fixed_dictionaries({"type": st.sampled_from(["new", "update", "end"]),
                                        "after": st.dictionaries(st.sampled_from(["id", "camera", "label", "end_time"]),
                                                                 _JSON, max_size=4)}).map(lambda v: json.dumps(v).encode())))
def test_parser_never_raises_anything_but_value_error(payload):
    try:
        event = parse_event(payload)
    except ValueError:
        return
    # What passes is safe to put in a URL path and an MQTT topic as it is.
    for value in (event.after.id, event.after.camera):
        assert value and not set(value) & set("/?#+ \n\\%") and value not in (".", "..")


@settings(max_examples=200, deadline=None, suppress_health_check=SLOW_MACHINE)
@given(st.from_regex(r"[0-9]{10}\.[0-9]{6}-[a-z0-9]{6}", fullmatch=True),
       st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True))
def test_every_frigate_shaped_event_passes(event_id, camera):
    event = parse_event(message(id=event_id, camera=camera))
    assert event.after.id == event_id and event.after.camera == camera
