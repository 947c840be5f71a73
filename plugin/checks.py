"""What every `gunwatch doctor` check is made of, the plugins' own included: a Result per
check, the Checker a plugin's `doctor_check(doctor, label, config)` reports to, and the probes more than
one plugin needs (network errors in a few words, an MQTT login).

A plugin's check talks to the real thing exactly as the service would, but read only: nothing is
recorded, sent or written back.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import requests

if TYPE_CHECKING:
    from .config import GunwatchConfig


State = Literal["OK", "WARN", "FAIL"]
NETWORK_TIMEOUT_S = 5.0


class Checker(Protocol):
    """What a plugin's check gets (gunwatch.doctor.Doctor)."""

    config: GunwatchConfig | None   # the whole file, for checks that need other sections

    def add(self, check: str, state: State, detail: str, fix: str = "") -> None:
        """One answer: `check` names the config section, `fix` says what to change."""

    def http_get(self, who: str, url: str, **kwargs) -> requests.Response:
        """GET with the doctor's timeout; `who`'s clock is compared with ours at the end."""

    def note_peer_clock(self, who: str, response: requests.Response) -> None:
        """Keep a peer's Date header for the clock check."""


@dataclass(frozen=True)
class Result:
    check: str
    state: State
    detail: str
    fix: str = ""


def why(exc: Exception) -> str:
    """A network error in a few words (requests' own text runs to three nested reprs)."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return f"{type(exc).__name__}: {match.group(1) if match else str(exc)[:160]}"


def mqtt_problem(host: str, port: int, username: str | None, password: str | None,
                 tls: bool = False, timeout: float = NETWORK_TIMEOUT_S) -> str | None:
    """Connect and wait for the broker's CONNACK; None when accepted, else why not."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gunwatch-doctor-{os.getpid()}")
    if username:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set()
    answer: dict[str, object] = {}
    done = threading.Event()

    def on_connect(_client, _userdata, _flags, reason, _properties=None) -> None:
        answer["reason"] = reason
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ValueError) as exc:
        return f"cannot connect to {host}:{port} ({exc})"
    client.loop_start()
    try:
        if not done.wait(timeout):
            return f"{host}:{port} accepted the connection but sent no MQTT answer in {timeout:.0f} s"
        reason = answer["reason"]
        return f"{host}:{port} refused the login: {reason}" if reason.is_failure else None
    finally:
        client.disconnect()
        client.loop_stop()
