"""The `type: zoneminder` source section of the config file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from ...decode import DEFAULT_MAX_PIXELS
from ...schema import GunwatchModel

DEFAULT_STATE_FILE = Path("/var/lib/gunwatch/zoneminder.sqlite")


class ZoneMinderSourceConfig(GunwatchModel):
    type: Literal["zoneminder"]
    url: str = Field("http://127.0.0.1/zm", description="ZoneMinder's web portal; the API is "
                     "this URL + /api unless api_url says otherwise")
    api_url: str | None = Field(None, description="ZoneMinder's API when it is not url + /api")
    user: str | None = Field(None, description="ZoneMinder user when auth is on (OPT_USE_AUTH); "
                             "needs API access, View events, Edit events for notes, Edit monitors "
                             "for alarm")
    password: SecretStr | None = Field(None, description="that user's password; write "
                                       "${ZM_PASSWORD} to take it from the environment")
    verify_tls: bool = Field(True, description="check the portal's HTTPS certificate")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout, seconds")
    token_renew_s: float = Field(300.0, gt=0, description="renew the API access token this many "
                                 "seconds before it expires")
    watch: Literal["both", "disk", "api"] = Field(
        "both", description="how new events and frames are noticed: disk = inotify on events_dir "
        "(instant, needs gunwatch on the ZoneMinder host), api = polling the API every poll_s, "
        "both = disk for speed and the API as a safety net")
    events_dir: Path = Field(Path("/var/cache/zoneminder/events"),
                             description="ZoneMinder's events folder (Storage 'Default')")
    frames_from: Literal["auto", "disk", "api"] = Field(
        "auto", description="where frame pictures are read: disk (the event's JPEGs), api "
        "(index.php?view=image, also for events stored as video only), auto = disk when the "
        "event folder is readable here, else api")
    poll_s: float = Field(1.0, gt=0, description="seconds between API polls for new and open events")
    monitors: list[str | int] = Field([], description="monitors to follow, by name or id (empty: all)")
    exclude_monitors: list[str | int] = Field([], description="monitors never followed, by name or id")
    frames_per_event: int = Field(20, ge=1, description="most frames analysed per event (alarm "
                                  "frames first, then the snapshot, then sampled frames)")
    sample_every: int = Field(2, ge=1, description="after the alarm frames, analyse every Nth "
                              "capture frame of the event")
    max_event_s: float = Field(600.0, gt=0, description="stop following an event open this long")
    quiet_s: float = Field(15.0, gt=0, description="an open event with no new frame and no word "
                           "from the API for this long is taken as ended")
    backlog_s: float = Field(0.0, ge=0, description="first start only: also analyse closed events "
                             "that started up to this many seconds ago (open events always are)")
    max_age_s: float = Field(3600.0, gt=0, description="after gunwatch or ZoneMinder was down, "
                             "events that started longer ago than this are not analysed")
    state_file: Path = Field(DEFAULT_STATE_FILE, description="where gunwatch remembers which "
                             "events and frames it has analysed, so a restart neither skips nor "
                             "repeats one; keep it under state_dir")
    notes: bool = Field(True, description="put the detection (`gun 93% [gunwatch]`) in front of "
                        "the event's Notes, keeping what ZoneMinder wrote after it")
    objdetect: bool = Field(True, description="write objdetect.jpg (annotated frame) and "
                            "objects.json into the event folder, as zmeventnotification does")
    alarm: Literal["off", "api", "zmtrigger"] = Field(
        "off", description="on a confirmed gun, force the monitor into alarm so it keeps "
        "recording: through the API (needs Edit monitors) or zmtrigger (tcp, OPT_TRIGGERS)")
    alarm_s: float = Field(30.0, gt=0, description="how long the forced alarm lasts, seconds")
    write_back_retry_s: float = Field(
        86400.0, gt=0, description="how long notes, objdetect.jpg and alarms ZoneMinder does not take "
        "(down, restarting) are kept trying, seconds; they wait in state_dir/write-back.sqlite, "
        "across restarts of gunwatch")
    zmtrigger_port: int = Field(6802, gt=0, lt=65536, description="zmtrigger.pl's TCP port")
    hook_max_s: float = Field(20.0, gt=0, description="`gunwatch zm-hook`: follow an event that "
                              "is still recording for at most this long before answering")
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0, description="largest frame decoded, in "
                            "pixels (checked from the JPEG header before decoding)")

    @model_validator(mode="after")
    def check_password_needs_user(self) -> ZoneMinderSourceConfig:
        if self.password is not None and not self.user:
            raise ValueError("password is set but user is not; set user (the ZoneMinder login)")
        return self

    @property
    def portal(self) -> str:
        return self.url.rstrip("/")

    @property
    def api(self) -> str:
        return (self.api_url or f"{self.portal}/api").rstrip("/")
