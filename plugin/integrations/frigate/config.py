"""The `type: frigate` source section: where Frigate's API and MQTT broker are, what to follow
and what to write back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from ...decode import DEFAULT_MAX_PIXELS
from ...schema import GunwatchModel


class FrigateAuthConfig(GunwatchModel):
    user: str | None = Field(None, description="Frigate user gunwatch logs in as (POST /api/login)")
    password: SecretStr | None = Field(None, description="that user's password; write it as "
                                       "${FRIGATE_PASSWORD} and set the variable in the environment file")
    token: SecretStr | None = Field(None, description="instead of user/password: a JWT Frigate issued "
                                    "(${FRIGATE_TOKEN}); it is not renewed, so it must outlive the service")

    @model_validator(mode="after")
    def one_way_to_log_in(self) -> "FrigateAuthConfig":
        if self.token is not None and (self.user or self.password):
            raise ValueError("set either token, or user and password, not both")
        if self.token is None and not (self.user and self.password):
            raise ValueError("set user and password (or token): Frigate's port 8971 needs a session")
        return self


class MqttConfig(GunwatchModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = Field("frigate", description="Frigate's mqtt.topic_prefix")


class FrigateSourceConfig(GunwatchModel):
    type: Literal["frigate"]
    url: str = Field("http://127.0.0.1:5000", description="Frigate's HTTP API: https://HOST:8971 "
                     "with auth (what Frigate's docker-compose publishes), or http://HOST:5000 "
                     "without auth (inside Frigate's docker network only)")
    auth: FrigateAuthConfig | None = Field(None, description="Frigate user/password or token; needed "
                                           "on port 8971")
    ca_file: str | None = Field(None, description="PEM certificate (or CA) to trust for url, when "
                                "Frigate's certificate names the host in url")
    tls_verify: bool = Field(True, description="false: accept any certificate on url; needed for the "
                             "certificate Frigate generates itself (CN=*, names no host)")
    public_url: str | None = Field(None, description="Frigate as people open it (e.g. "
                                   "https://frigate.example.org), for incident links; default: url")
    mqtt: MqttConfig = MqttConfig()
    cameras: list[str] = Field([], description="Frigate cameras to follow (empty: all)")
    labels: list[str] = Field(["person"], description="Frigate labels whose events are analysed")
    fps: float = Field(2.0, gt=0, le=10, description="frames per second fetched per camera during an event")
    max_event_s: float = Field(120.0, gt=0, description="stop analysing an event after this long "
                               "(its later updates are ignored)")
    sub_label: bool = Field(True, description="write `gun` as the sub label of the event whose box "
                            "holds the gun; a sub label set by another source (face recognition) "
                            "is left alone and a Frigate event is created instead")
    create_event: bool = Field(False, description="also create a separate Frigate event labelled gun")
    sub_label_retry_s: float = Field(20.0, ge=0, description="how long a sub label Frigate answers "
                                     "404 to is retried (the event is not written yet) before a "
                                     "Frigate event is created instead")
    write_back_retry_s: float = Field(
        86400.0, gt=0, description="how long sub labels and created events Frigate does not take "
        "(down, restarting) are kept trying, seconds; they wait in state_dir/write-back.sqlite, "
        "across restarts of gunwatch")
    publish_state: bool = Field(True, description="Home Assistant: MQTT discovery of a binary sensor "
                                "per camera, gunwatch/<camera>/gun ON/OFF (retained), availability "
                                "gunwatch/<mqtt.topic_prefix>/availability with a last will")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's MQTT discovery prefix")
    timeout_s: float = Field(5.0, gt=0, description="HTTP timeout")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="largest frame decoded, in "
                            "pixels (checked from the JPEG header before decoding)")
