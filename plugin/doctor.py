"""`gunwatch doctor`: check everything `gunwatch run` depends on, each check ending OK, WARN or
FAIL with the fix in one line.

The checks talk to the real things (the config file, libdarknet, the model on a drawn pistol,
each recorder's API, MQTT brokers, streams, Twilio, SMTP servers, webhook receivers, the state
folder) exactly as the service would, but read only: nothing is recorded, sent or written back,
except one temporary file in the state folder.
"""

from __future__ import annotations

import email.utils
import os
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import requests

from . import registry
from .checks import NETWORK_TIMEOUT_S, Result, State
from .config import DEFAULT_PATHS, Environment, GunwatchConfig, config_file, load_config
from .errors import GunwatchError
from .model import models_dirs
from .paths import example_config

TEST_IMAGE = "drawn-pistol.jpg"   # in a models folder; drawn with OpenCV shapes, no photograph
# Skew beyond this breaks TLS, ZoneMinder's token expiry and the times in alerts.
MAX_CLOCK_SKEW_S = 60.0
# No correct clock reads earlier than this (the year this check was written).
EARLIEST_SANE = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_image() -> Path | None:
    for folder in models_dirs():
        if (folder / TEST_IMAGE).is_file():
            return folder / TEST_IMAGE
    return None


class Doctor:
    """Runs the checks in order; each appends Results. Network checks remember the peers'
    HTTP Date headers, which the clock check compares against."""

    def __init__(self, config_path: str | None, env_file: Path | None):
        self.config_path, self.env_file = config_path, env_file
        self.results: list[Result] = []
        self.config: GunwatchConfig | None = None
        self.peer_dates: list[tuple[str, float]] = []   # (who, their clock - ours, seconds)

    # ------------------------------------------------------------------ plumbing
    def add(self, check: str, state: State, detail: str, fix: str = "") -> None:
        self.results.append(Result(check, state, detail, fix))

    def http_get(self, who: str, url: str, **kwargs) -> requests.Response:
        response = requests.get(url, timeout=NETWORK_TIMEOUT_S, **kwargs)
        self.note_peer_clock(who, response)
        return response

    def note_peer_clock(self, who: str, response: requests.Response) -> None:
        """Keep a peer's Date header for the clock check."""
        date = response.headers.get("Date")
        if date:
            try:
                theirs = email.utils.parsedate_to_datetime(date).timestamp()
                self.peer_dates.append((who, theirs - time.time()))
            except (TypeError, ValueError):
                pass

    def run(self) -> list[Result]:
        steps: list[Callable[[], None]] = [self.check_config, self.check_user, self.check_state_dir,
                                           self.check_darknet, self.check_model, self.check_person_model,
                                           self.check_sources,
                                           self.check_alerts, self.check_clock]
        for step in steps:
            try:
                step()
            except Exception as exc:   # a broken check must not hide the others' answers
                self.add(step.__name__.removeprefix("check_"), "FAIL",
                         f"the check itself failed: {type(exc).__name__}: {exc}",
                         "report this as a gunwatch bug, with the output of --log-level DEBUG")
        return self.results

    # ------------------------------------------------------------------ config
    def check_config(self) -> None:
        path = config_file(self.config_path)
        if path is None:
            self.add("config", "FAIL", f"no config file at {DEFAULT_PATHS[0]}",
                     f"copy {example_config()} there (or pass --config FILE)")
            return
        try:
            env = Environment.beside(path, self.env_file)
            if env.unread:
                self.add("config", "WARN", f"{env.unread}; ${{...}} secrets may not resolve", "run doctor as the service user or as root")
            config = load_config(path, self.env_file)
        except GunwatchError as exc:
            self.add("config", "FAIL", str(exc), f"edit {path}; `gunwatch config check --config "
                     f"{path}` repeats this; every key is in docs/config.md")
            return
        if not config.sources:
            self.add("config", "FAIL", f"{path}: sources: no source configured",
                     f"add a zoneminder, frigate, stream or folder source ({example_config()})")
        else:
            channels = len(config.alerts.channels)
            self.add("config", "OK", f"{path}: {len(config.sources)} sources, {channels} alert channels")
        self.config = config

    def check_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            import pwd

            pwd.getpwnam("gunwatch")
        except KeyError:
            return
        self.add("user", "WARN", "running as root: permission checks say what root may do, not "
                 "the service user", "run `runuser -u gunwatch -- gunwatch doctor` for the service's view")

    def check_state_dir(self) -> None:
        state = self.config.state_dir if self.config else GunwatchConfig().state_dir
        if not state.is_dir():
            self.add("state_dir", "FAIL", f"{state} does not exist",
                     f"create it: install -d -o gunwatch -g gunwatch -m 0750 {state}")
            return
        try:
            with tempfile.NamedTemporaryFile(dir=state, prefix=".doctor-"):
                pass
        except OSError as exc:
            self.add("state_dir", "FAIL", f"{state} is not writable ({exc.strerror})",
                     f"chown -R gunwatch: {state}, or set state_dir to a folder the service may write")
            return
        # A writable folder is not enough: files an earlier install or a root run left behind
        # (the incident log, the outbox, journals) fail `run` at start with "Permission denied".
        blocked = [p for p in self._written_files(state) if not os.access(p, os.W_OK)]
        if blocked:
            shown = ", ".join(str(p) for p in blocked[:5]) + (f" and {len(blocked) - 5} more" if len(blocked) > 5 else "")
            self.add("state_dir", "FAIL", f"{len(blocked)} file(s) the service writes are not writable "
                     f"by this user: {shown}", f"chown -R gunwatch: {state} (install.sh does it), or remove them")
            return
        self.add("state_dir", "OK", f"{state} and the files in it are writable")

    def _written_files(self, state: Path) -> list[Path]:
        """What `run` opens for writing: everything under state_dir, and the state files a
        source keeps elsewhere when its config says so."""
        files = [Path(root, name) for root, dirs, names in os.walk(state) for name in dirs + names]
        elsewhere = [getattr(source, key, None) for source in (self.config.sources if self.config else [])
                     for key in ("journal", "state_file")]
        elsewhere.append(self.config.alerts.outbox if self.config else None)
        files += [Path(p) for p in elsewhere if p is not None and Path(p).exists()
                  and not Path(p).is_relative_to(state)]
        return [p for p in files if not p.is_symlink()]

    # ------------------------------------------------------------------ detector
    def check_darknet(self) -> None:
        from .darknet.library import cuda_device_count, load_library

        detector = self.config.detector if self.config else GunwatchConfig().detector
        explicit = detector.darknet_library
        needed = detector.backend == "darknet"
        try:
            lib = load_library(explicit)
        except GunwatchError as exc:
            first = str(exc).splitlines()
            self.add("darknet", "FAIL" if needed else "WARN",
                     " ".join(line.strip() for line in first[:4]) + (
                         "" if needed else " (the opencv backend does not need it)"),
                     "apt-get install darknet, or set detector.darknet_library (install.sh --gpu builds a CUDA one)")
            return
        detail = lib.describe()
        if lib.cuda:
            detail += f", {cuda_device_count()} GPU(s)"
        if explicit and Path(explicit) != lib.path:
            self.add("darknet", "WARN", f"detector.darknet_library {explicit} is not usable here "
                     f"(missing, incompatible, or a CUDA build without a GPU); using {detail}",
                     "fix or remove detector.darknet_library (gunwatch --log-level DEBUG doctor says why)")
            return
        self.add("darknet", "OK", detail)

    def check_model(self) -> None:
        import cv2

        from .detectors.base import DetectorSettings
        from .detectors.select import create_detector
        from .model import load_model

        config = self.config or GunwatchConfig()
        d = config.detector
        try:
            bundle = load_model(d.model)
        except GunwatchError as exc:
            self.add("model", "FAIL", str(exc), "set detector.model to a bundle folder or a name in models/")
            return
        image_path = test_image()
        if image_path is None:
            self.add("model", "FAIL", f"{bundle.name} loads, but the test picture {TEST_IMAGE} is in "
                     f"none of {', '.join(map(str, models_dirs()))}", "reinstall gunwatch (install.sh)")
            return
        settings = DetectorSettings(confidence=d.confidence, nms=d.nms)
        threshold = settings.resolve(bundle)[0]
        try:
            detector = create_detector(d.backend, bundle, settings,
                                       library=str(d.darknet_library) if d.darknet_library else None)
        except GunwatchError as exc:
            self.add("model", "FAIL", f"{bundle.name}: {exc}", "see the darknet check above, or set "
                     "detector.backend: opencv")
            return
        try:
            started = time.perf_counter()
            found = detector.detect(cv2.imread(str(image_path)))
            ms = (time.perf_counter() - started) * 1000
        finally:
            detector.close()
        labels = set(config.defaults.labels)
        hits = [x for x in found if x.label in labels]
        if not hits:
            seen = ", ".join(f"{x.label} {x.confidence:.2f}" for x in found) or "nothing"
            self.add("model", "FAIL", f"{bundle.name} ({detector.name}) finds no {'/'.join(sorted(labels))} "
                     f"at confidence >= {threshold:.2f} in the drawn pistol {image_path} (found {seen})",
                     "use the bundled gun model (detector.model: gun-tiny-ensemble), or check "
                     "defaults.labels names the model's gun class")
            return
        best = max(hits, key=lambda x: x.confidence)
        self.add("model", "OK", f"{bundle.name} ({detector.name} backend) finds {best.label} "
                 f"{best.confidence:.2f} (threshold {threshold:.2f}) in {image_path.name}, {ms:.0f} ms")

    def check_person_model(self) -> None:
        """Cameras with person regions (the default `auto` on large frames) need the person model
        at start-up; a missing or broken one stops `gunwatch run`, so say it here first."""
        import cv2
        import numpy as np

        from .regions.person import load_person_detector

        config = self.config or GunwatchConfig()
        if not config.uses_person_regions():
            self.add("person_model", "OK", "no camera uses person regions (regions.modes without auto or person)")
            return
        try:
            detector = load_person_detector(config.detector)
        except GunwatchError as exc:
            self.add("person_model", "FAIL", str(exc), "set detector.person_model to the bundled "
                     "person-yolov4-tiny (reinstall gunwatch if it is missing), or set the cameras' "
                     "regions.modes to [whole]")
            return
        image_path = test_image()
        image = cv2.imread(str(image_path)) if image_path else None
        if image is None:
            image = np.full((416, 416, 3), 127, np.uint8)
        try:
            started = time.perf_counter()
            detector.detect(image)
            ms = (time.perf_counter() - started) * 1000
        finally:
            detector.close()
        side = config.detector.person_input or "its own"
        self.add("person_model", "OK", f"{config.detector.person_model} ({detector.name} backend, input {side}) "
                 f"runs: {ms:.0f} ms for one person pass")

    # ------------------------------------------------------------------ plugins
    def check_sources(self) -> None:
        if self.config:
            for index, source in enumerate(self.config.sources):
                self.plugin_check("source", f"sources.{index} ({source.type})", source)

    def check_alerts(self) -> None:
        if self.config:
            for name, channel in self.config.alerts.channels.items():
                self.plugin_check("alert_channel", f"alerts.channels.{name} ({channel.type})", channel)

    def plugin_check(self, kind: str, label: str, config) -> None:
        """The registered plugin's own `doctor_check`, when it has one."""
        check = getattr(registry.lookup(kind, config.type), "doctor_check", None)
        if check is None:
            self.add(label, "OK", f"configured; the {config.type} plugin has no checks of its own")
        else:
            check(self, label, config)

    # ------------------------------------------------------------------ clock
    def check_clock(self) -> None:
        now = datetime.now(timezone.utc)
        if now < EARLIEST_SANE:
            self.add("clock", "FAIL", f"the system clock says {now:%Y-%m-%d %H:%M} UTC",
                     "set the time and keep it set: apt-get install systemd-timesyncd (or chrony)")
            return
        off = [(who, skew) for who, skew in self.peer_dates if abs(skew) > MAX_CLOCK_SKEW_S]
        if off:
            who, skew = max(off, key=lambda p: abs(p[1]))
            self.add("clock", "FAIL", f"this clock is {abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} "
                     f"{who}'s", "synchronise both with NTP: apt-get install systemd-timesyncd (or chrony)")
            return
        peers = sorted({who for who, _ in self.peer_dates})
        self.add("clock", "OK", f"{now:%Y-%m-%d %H:%M:%S} UTC" + (
            f", within {MAX_CLOCK_SKEW_S:.0f} s of {', '.join(peers)}" if peers else ""))


def failed(results: list[Result]) -> bool:
    return any(r.state == "FAIL" for r in results)


def as_dicts(results: list[Result]) -> list[dict]:
    return [asdict(r) for r in results]
