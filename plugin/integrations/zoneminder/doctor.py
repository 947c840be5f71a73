"""`gunwatch doctor` for a ZoneMinder source: the API answers (with this login), the monitors
exist, and the events folder is readable (and writable where objdetect.jpg goes)."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from ...checks import Checker
from ...errors import GunwatchError
from .client import ZoneMinderClient
from .config import ZoneMinderSourceConfig


def check(doctor: Checker, name: str, source: ZoneMinderSourceConfig) -> None:
    try:
        doctor.http_get("zoneminder", source.api + "/host/getVersion.json", verify=source.verify_tls)
    except requests.RequestException:
        pass   # the client below says what is wrong
    client = ZoneMinderClient(source)
    try:
        version = client.version().get("version", "?")
        monitors = {str(m["Id"]): m["Name"] for m in client.monitors()}
    except GunwatchError as exc:
        auth = "login" in str(exc) or "authenticated" in str(exc) or "token" in str(exc)
        doctor.add(name, "FAIL", str(exc), f"set {name.split()[0]}.user/password to a ZoneMinder user "
                   "with API access" if auth else "start ZoneMinder, or set url to its web portal "
                   "(http://HOST/zm)")
        return
    wanted = [str(m) for m in source.monitors]
    unknown = [m for m in wanted if m not in monitors and m not in monitors.values()]
    if unknown:
        doctor.add(name, "FAIL", f"ZoneMinder {version} at {source.portal} has no monitor "
                   f"{', '.join(unknown)} (it has {', '.join(sorted(monitors.values())) or 'none'})",
                   "fix monitors: names or ids as in ZoneMinder's console")
    else:
        who = f"as {source.user}" if source.user else "without login"
        doctor.add(name, "OK", f"ZoneMinder {version} API at {source.api} answers {who}, "
                   f"{len(monitors)} monitors")
    if source.watch == "api" and source.frames_from == "api" and not source.objdetect:
        return
    check_events_dir(doctor, name, source)


def check_events_dir(doctor: Checker, name: str, source: ZoneMinderSourceConfig) -> None:
    events = source.events_dir
    fix_group = ("add gunwatch to ZoneMinder's group (usermod -aG www-data gunwatch; install.sh "
                 "does) and restart gunwatch")
    if not events.is_dir():
        state = "FAIL" if source.watch == "disk" or source.frames_from == "disk" else "WARN"
        doctor.add(name, state, f"events folder {events} is not here (ZoneMinder on another host?)",
                   "set events_dir to ZoneMinder's Storage path, or watch: api and frames_from: api")
        return
    if not os.access(events, os.R_OK | os.X_OK):
        doctor.add(name, "FAIL", f"this user may not read {events}", fix_group)
        return
    latest = newest_subdir(events, 3)
    if source.objdetect and latest is not None and not os.access(latest, os.W_OK):
        # ZoneMinder makes event folders 0755: group membership alone does not let us write.
        fix = (fix_group if latest.stat().st_mode & 0o020 else
               f"let the gunwatch group write new event folders: apt-get install acl; setfacl -R "
               f"-m g:gunwatch:rwX -d -m g:gunwatch:rwX {events}")
        doctor.add(name, "FAIL", f"{events} is readable, but event folder {latest} is not writable "
                   "(objdetect.jpg and objects.json go there)", fix + "; or set objdetect: false")
        return
    doctor.add(name, "OK", f"events folder {events} is readable" + (
          " and its newest event folder writable" if source.objdetect and latest else ""))


def newest_subdir(path: Path, depth: int) -> Path | None:
    """The most recently changed folder `depth` levels down (ZoneMinder: monitor/date/event)."""
    current = path
    for _ in range(depth):
        try:
            dirs = [e for e in os.scandir(current) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return None
        if not dirs:
            return None
        current = Path(max(dirs, key=lambda e: e.stat().st_mtime).path)
    return current
