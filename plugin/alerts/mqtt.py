"""MQTT: the alert as JSON, published with QoS 1 (the broker acknowledges it)."""

from __future__ import annotations

import json
import re
import ssl
import threading
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import Field, SecretStr

from ..checks import Checker, mqtt_problem
from ..registry import register
from .channel import AlertChannel, Delivery, PermanentError, SendResult, TransientError
from .settings import ChannelConfig, Destination

# CONNACK reason codes (MQTT 5 numbering, which paho also uses for 3.1.1) that retrying cannot fix.
REFUSED_FOR_GOOD = {134: "bad user name or password", 135: "not authorized"}


class MqttConfig(ChannelConfig):
    type: Literal["mqtt"]
    host: str = Field("127.0.0.1", description="MQTT broker host")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker port")
    username: str | None = Field(None, description="broker user name")
    password: SecretStr | None = Field(None, description="broker password")
    tls: bool = Field(False, description="connect with TLS (system CA certificates)")
    topic: str = Field("gunwatch/alerts/{camera}",
                       description="topic; {camera} is replaced by the camera name")
    qos: Literal[0, 1, 2] = Field(1, description="MQTT quality of service (1: broker acknowledges)")
    retain: bool = Field(False, description="ask the broker to keep the last alert per topic")

    def destinations(self, camera: str) -> list[Destination]:
        # MQTT wildcards and level separators in a camera name would change the topic's meaning.
        safe = re.sub(r"[/#+\s]", "_", camera) or "_"
        return [(self.topic.replace("{camera}", safe), None)]


def check_mqtt_channel(doctor: Checker, name: str, channel: MqttConfig) -> None:
    problem = mqtt_problem(channel.host, channel.port, channel.username,
                           channel.password.get_secret_value() if channel.password else None, channel.tls)
    if problem:
        doctor.add(name, "FAIL", problem, "set host/port/username/password of the broker")
    else:
        doctor.add(name, "OK", f"broker {channel.host}:{channel.port} accepts gunwatch")


@register("alert_channel", "mqtt")
class MqttChannel(AlertChannel):
    """Connects, publishes one alert, waits for the broker's acknowledgement, disconnects.

    A connection per alert: alerts are rare, and no background reconnect loop can then hold
    a half-sent message that would be published again behind the outbox's back.
    """

    Config = MqttConfig
    doctor_check = staticmethod(check_mqtt_channel)

    config: MqttConfig

    def send(self, d: Delivery) -> SendResult:
        cfg = self.config
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password
                                   else None)
        if cfg.tls:
            client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
        connected = threading.Event()
        answer: dict = {}

        def on_connect(_client, _userdata, _flags, reason_code, _properties) -> None:
            answer["code"] = reason_code
            connected.set()

        client.on_connect = on_connect
        try:
            client.connect(cfg.host, cfg.port, keepalive=max(5, int(cfg.timeout_s * 2)))
        except (OSError, ValueError) as exc:
            raise TransientError(f"cannot reach MQTT broker {cfg.host}:{cfg.port}: {exc}") from exc
        client.loop_start()
        try:
            if not connected.wait(cfg.timeout_s):
                raise TransientError(f"MQTT broker {cfg.host}:{cfg.port} did not answer CONNECT "
                                     f"within {cfg.timeout_s:g} s")
            code = answer["code"]
            if code.is_failure:
                if code.value in REFUSED_FOR_GOOD:
                    raise PermanentError(f"MQTT broker refused the connection: "
                                         f"{REFUSED_FOR_GOOD[code.value]}; check username/password")
                raise TransientError(f"MQTT broker refused the connection: {code}")
            payload = json.dumps(self.payload(d), separators=(",", ":"))
            info = client.publish(d.recipient, payload, qos=cfg.qos, retain=cfg.retain)
            try:
                info.wait_for_publish(cfg.timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise TransientError(f"MQTT publish failed: {exc}") from exc
            if not info.is_published():
                raise TransientError(f"MQTT broker did not acknowledge within {cfg.timeout_s:g} s")
            return SendResult("sent", f"mid {info.mid}", f"published to {d.recipient} "
                                                         f"(QoS {cfg.qos})")
        finally:
            client.disconnect()
            client.loop_stop()
