"""Wiring of a running gunwatch: config -> detector -> sources -> sinks -> runner, stopped in
reverse. The only place that knows how the stages fit together."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily

from . import registry
from .alerts.sink import AlertSink
from .config import GunwatchConfig, load_config
from .detectors.base import Detector, DetectorSettings
from .detectors.select import create_detector
from .errors import ConfigError, GunwatchError
from .model import ModelBundle, load_model
from .paths import example_config
from .pipeline.confirm import Confirmer
from .pipeline.runner import Runner
from .regions.person import load_person_detector
from .regions.stage import RegionDetector
from .sinks.base import Sink
from .sinks.incident_log import IncidentLog
from .sinks.write_back import FILE_NAME as WRITE_BACK_FILE, WriteBackJournal
from .sources.base import Source
from .web.server import WebServer
from .web.sink import ReviewSink

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: GunwatchConfig, extra_sinks: list[Sink] | None = None,
                 config_path: Path | None = None, env_file: str | None = None):
        """`config_path`: the file SIGHUP re-reads (None: SIGHUP is ignored, e.g. for the demo,
        whose extra sinks cannot be reopened), with the secrets of `env_file` (None: the
        environment file beside it, as at start)."""
        self.config, self.config_path, self.env_file = config, config_path, env_file
        self.extra_sinks = list(extra_sinks or [])
        self.model: ModelBundle = self.init_model()
        self.detector: Detector = self.init_detector()
        self.person: Detector | None = None
        self.alerts: AlertSink | None = None
        self.build_pipeline()
        self._done = threading.Event()
        self._reload = threading.Event()
        self._wake = threading.Event()
        self.metrics: WebServer | None = None

    def build_pipeline(self) -> None:
        """Sources, sinks and runner from self.config (the detector is built separately: it is
        the slow part, and a reload keeps it when the detector section is unchanged)."""
        if self.person is None and self.needs_person():
            self.person = self.init_person_detector()
        self.sources: list[Source] = self.init_sources()
        self.sinks: list[Sink] = self.init_sinks() + self.extra_sinks
        self.runner = self.init_runner()

    def init_model(self) -> ModelBundle:
        return load_model(self.config.detector.model)

    def init_detector(self) -> Detector:
        d = self.config.detector
        settings = DetectorSettings(confidence=d.confidence, nms=d.nms)
        return create_detector(d.backend, self.model, settings,
                               library=str(d.darknet_library) if d.darknet_library else None)

    def needs_person(self) -> bool:
        return self.config.uses_person_regions()

    def init_person_detector(self) -> Detector:
        """The one person detector of all cameras' person regions."""
        return load_person_detector(self.config.detector)

    def init_sources(self) -> list[Source]:
        if not self.config.sources:
            raise ConfigError(f"sources: no source configured; add at least one (folder, stream, "
                              f"...) - see {example_config()}")
        # Crops need the frame's own pixels: reduced decoding only when every camera looks at
        # whole frames alone.
        whole_only = all(r.whole_only() for r in self.config.region_settings())
        spec = self.model.meta.input if whole_only else None
        return [registry.lookup("source", s.type)(s, spec) for s in self.config.sources]

    def init_sinks(self) -> list[Sink]:
        # The incident log and the alert outbox come first: both are local writes. Recorder
        # write-backs only file their writes there (their workers do them), so an alert never
        # waits for a recorder's HTTP API.
        sinks: list[Sink] = [IncidentLog(self.config.state_dir / "incidents.jsonl"),
                             ReviewSink(self.config.state_dir, self.model.name)]
        if self.config.alerts.channels:
            self.alerts = AlertSink(self.config)
            sinks.append(self.alerts)
        self.write_backs = self.init_write_backs()
        return sinks + self.write_backs

    def write_back_journal(self) -> WriteBackJournal:
        return WriteBackJournal(self.config.state_dir / WRITE_BACK_FILE)

    def init_write_backs(self) -> list[Sink]:
        """The write-back sink registered under each source's type (recorder integrations), fed
        by the record of events the source shares (`source.events`), all filing into one journal."""
        kinds = set(registry.names("write_back"))
        recorders = [source for source in self.sources if source.config.type in kinds]
        if not recorders:
            return []
        journal = self.write_back_journal()
        return [registry.lookup("write_back", source.config.type)(source.config, source.events, journal)
                for source in recorders]

    def alert_metrics(self) -> list[GaugeMetricFamily]:
        if self.alerts is None:
            return []
        gauge = GaugeMetricFamily("gunwatch_alerts", "Alerts in the outbox by channel and state.",
                                  labels=["channel", "state"])
        for (channel, state), n in sorted(self.alerts.outbox.counts().items()):
            gauge.add_metric([channel, state], n)
        return [gauge]

    def cameras(self) -> set[str]:
        return set(self.config.cameras)

    def init_runner(self) -> Runner:
        per_camera = {name: self.config.camera(name) for name in self.cameras()}
        confirmer = Confirmer(self.config.defaults.confirm, {n: c.confirm for n, c in per_camera.items()})
        _, nms = DetectorSettings(self.config.detector.confidence, self.config.detector.nms).resolve(self.model)
        side = max(self.model.meta.input.width, self.model.meta.input.height)
        regions = RegionDetector(self.detector, nms, side, lambda camera: self.config.camera(camera).regions,
                                 self.person)
        return Runner(self.sources, regions, confirmer, self.sinks,
                      filters={n: c.frame_filter() for n, c in per_camera.items()},
                      default_filter=self.config.defaults.frame_filter(),
                      snapshot_dir=self.config.state_dir / "snapshots")

    def run(self, duration: float | None = None) -> None:
        """Run until SIGTERM/SIGINT (or for `duration` seconds), then stop cleanly; SIGHUP
        reloads the config file."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.request_stop())
            if self.config_path is not None:
                signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
        self.start_metrics()
        self.runner.start()
        log.info("gunwatch running: %d sources, detector=%s, model=%s", len(self.sources),
                 self.detector.name, self.model.name)
        deadline = None if duration is None else time.monotonic() + duration
        while not self._done.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            # Signal handlers only set events: the reload itself runs here, outside the handler.
            self._wake.wait(left)
            self._wake.clear()
            if self._reload.is_set() and not self._done.is_set():
                self._reload.clear()
                self.reload()
        self.stop()

    def start_metrics(self) -> None:
        if self.config.metrics.enabled:
            self.metrics = WebServer(self.config.metrics, lambda: self.config, lambda: self.runner,
                                     self.alert_metrics)
            self.metrics.start()
        self.link_snapshots()

    def link_snapshots(self) -> None:
        """Alerts link their snapshot to the review pages when people can reach them and no
        `alerts.snapshot_base_url` says otherwise; each link is signed, so a phone or an MMS
        provider opens that one picture without the login."""
        if self.alerts is None or self.metrics is None or self.config.alerts.snapshot_base_url:
            return
        page = self.metrics.page_url
        if page is None:
            return
        for channel in self.alerts.worker.channels.values():
            channel.snapshot_base_url = f"{page}/snapshots"
            channel.link_signer = self.metrics.sign

    def request_stop(self) -> None:
        """Ask a running `run()` to return (from another thread or a signal handler)."""
        self._done.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Ask a running `run()` to reload the config file (what SIGHUP does)."""
        self._reload.set()
        self._wake.set()

    def reload(self) -> bool:
        """Re-read the config file and rebuild the pipeline from it. A file that does not load
        changes nothing. Queued alerts live in the outbox on disk: the old alert worker stops
        after its current attempt and the new one picks the queue up; frames waiting for the
        detector at that moment are dropped (the sources deliver fresh ones)."""
        try:
            new = load_config(self.config_path, self.env_file)
            same_detector = new.detector == self.config.detector
            model = self.model if same_detector else load_model(new.detector.model)
            old = (self.config, self.model, self.detector, self.person)
            self.config, self.model = new, model
            if not same_detector:
                self.person = None  # build_pipeline loads the new section's person model if needed
                try:
                    self.detector = self.init_detector()
                except GunwatchError:
                    self.config, self.model, self.person = old[0], old[1], old[3]
                    raise
        except GunwatchError as exc:
            log.error("reload of %s failed, still running the previous config: %s", self.config_path, exc)
            return False
        self.runner.stop()
        try:
            self.build_pipeline()
        except GunwatchError as exc:
            log.error("reload of %s failed, back to the previous config: %s", self.config_path, exc)
            for mine, before in ((self.detector, old[2]), (self.person, old[3])):
                if mine is not None and mine is not before:
                    mine.close()
            self.config, self.model, self.detector, self.person = old
            self.build_pipeline()
            self.runner.start()
            return False
        for mine, before in ((self.detector, old[2]), (self.person, old[3])):
            if before is not None and mine is not before:
                before.close()
        self.runner.start()
        if self.metrics and new.metrics == old[0].metrics and new.state_dir == old[0].state_dir:
            self.link_snapshots()  # the new alert channels
        else:
            if self.metrics:
                self.metrics.stop()
                self.metrics = None
            self.start_metrics()
        log.info("reloaded %s: %d sources, detector=%s, model=%s", self.config_path,
                 len(self.sources), self.detector.name, self.model.name)
        return True

    def stop(self) -> None:
        if self.metrics:
            self.metrics.stop()
        self.runner.stop()
        self.detector.close()
        if self.person is not None:
            self.person.close()
        log.info("gunwatch stopped")
