"""`gunwatch doctor` for a Frigate source: the API answers with these credentials and this
certificate rule (the source's own client), and the broker accepts gunwatch."""

from __future__ import annotations

import requests

from ...checks import NETWORK_TIMEOUT_S, Checker, mqtt_problem, why
from .api import FrigateApi, FrigateAuthError, FrigateTlsError
from .config import FrigateSourceConfig


def check(doctor: Checker, name: str, source: FrigateSourceConfig) -> None:
    # The source's own client: the same login, renewal and certificate rules as `run`.
    api = FrigateApi(source.url, source.auth, NETWORK_TIMEOUT_S,
                     tls_verify=source.ca_file or source.tls_verify)
    api.http.hooks["response"].append(lambda response, **_: doctor.note_peer_clock("frigate", response))
    how = ("without auth" if source.auth is None else
           f"logged in as {source.auth.user}" if source.auth.user else "with auth.token")
    try:
        major, minor = api.version()
        doctor.add(name, "OK", f"Frigate API {api.shown} answers {how}, version {major}.{minor}")
    except FrigateAuthError as exc:
        doctor.add(name, "FAIL", str(exc), "set auth.user and auth.password (the password as "
                   "${FRIGATE_PASSWORD} in the environment file), or auth.token")
    except FrigateTlsError as exc:
        doctor.add(name, "FAIL", str(exc).split(": Frigate's", 1)[0],
                   f"set tls_verify: false in {name} (Frigate's own certificate), or ca_file: "
                   "a PEM copy of the certificate it serves")
    except requests.RequestException as exc:
        doctor.add(name, "FAIL", f"Frigate API {api.shown}/api/version: {why(exc)}",
                   "set url to Frigate's API as reached from here: https://HOST:8971 with auth "
                   "(and ca_file for its certificate), or http://HOST:5000 inside its docker network")
    m = source.mqtt
    problem = mqtt_problem(m.host, m.port, m.username,
                           m.password.get_secret_value() if m.password else None)
    if problem:
        doctor.add(name, "FAIL", f"MQTT broker: {problem}",
                   "set mqtt.host/port (and username/password) to the broker Frigate publishes to")
    else:
        doctor.add(name, "OK", f"MQTT broker {m.host}:{m.port} accepts gunwatch, topic {m.topic_prefix}/events")
