"""Wiring of a running gunwatch: config -> detector -> sources -> sinks -> runner, stopped in
reverse. The only place that knows how the stages fit together."""

from __future__ import annotations

import logging
import signal
import threading

from . import registry
from .alerts.sink import AlertSink
from .config import GunwatchConfig
from .detectors.base import Detector, DetectorSettings
from .detectors.select import create_detector
from .errors import ConfigError
from .metrics import MetricsServer
from .model import ModelBundle, load_model
from .pipeline.confirm import Confirmer
from .pipeline.runner import Runner
from .sinks.base import Sink
from .sinks.incident_log import IncidentLog
from .sources.base import Source

log = logging.getLogger(__name__)


class App:
    def __init__(self, config: GunwatchConfig, extra_sinks: list[Sink] | None = None):
        self.config = config
        self.model: ModelBundle = self.init_model()
        self.detector: Detector = self.init_detector()
        self.sources: list[Source] = self.init_sources()
        self.alerts: AlertSink | None = None
        self.sinks: list[Sink] = self.init_sinks() + list(extra_sinks or [])
        self.runner = self.init_runner()
        self._done = threading.Event()
        self.metrics: MetricsServer | None = None

    def init_model(self) -> ModelBundle:
        return load_model(self.config.detector.model)

    def init_detector(self) -> Detector:
        d = self.config.detector
        settings = DetectorSettings(confidence=d.confidence, nms=d.nms)
        return create_detector(d.backend, self.model, settings,
                               library=str(d.darknet_library) if d.darknet_library else None)

    def init_sources(self) -> list[Source]:
        if not self.config.sources:
            raise ConfigError("sources: no source configured; add at least one (folder, stream, "
                              "...) - see install/gunwatch.example.yml")
        return [registry.lookup("source", s.type)(s, self.model.meta.input) for s in self.config.sources]

    def init_sinks(self) -> list[Sink]:
        # The incident log and the alert outbox come first: both are local writes, and an
        # alert must not wait for a recorder's HTTP API. Sources that write back into their
        # recorder bring their own sink.
        sinks: list[Sink] = [IncidentLog(self.config.state_dir / "incidents.jsonl")]
        if self.config.alerts.channels:
            self.alerts = AlertSink(self.config)
            sinks.append(self.alerts)
        return sinks + [s.write_back for s in self.sources if hasattr(s, "write_back")]

    def alert_metrics(self) -> list[str]:
        if self.alerts is None:
            return []
        lines = ["# HELP gunwatch_alerts Alerts in the outbox by channel and state.",
                 "# TYPE gunwatch_alerts gauge"]
        lines += [f'gunwatch_alerts{{channel="{channel}",state="{state}"}} {n}'
                  for (channel, state), n in sorted(self.alerts.outbox.counts().items())]
        return lines

    def cameras(self) -> set[str]:
        return set(self.config.cameras)

    def init_runner(self) -> Runner:
        per_camera = {name: self.config.camera(name) for name in self.cameras()}
        confirmer = Confirmer(self.config.defaults.confirm, {n: c.confirm for n, c in per_camera.items()})
        return Runner(self.sources, self.detector, confirmer, self.sinks,
                      filters={n: c.frame_filter() for n, c in per_camera.items()},
                      default_filter=self.config.defaults.frame_filter(),
                      snapshot_dir=self.config.state_dir / "snapshots")

    def run(self, duration: float | None = None) -> None:
        """Run until SIGTERM/SIGINT (or for `duration` seconds), then stop cleanly."""
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._done.set())
        if self.config.metrics.enabled:
            self.metrics = MetricsServer(self.config.metrics, self.runner, self.alert_metrics)
            self.metrics.start()
        self.runner.start()
        log.info("gunwatch running: %d sources, detector=%s, model=%s", len(self.sources),
                 self.detector.name, self.model.name)
        self._done.wait(duration)
        self.stop()

    def request_stop(self) -> None:
        """Ask a running `run()` to return (from another thread)."""
        self._done.set()

    def stop(self) -> None:
        if self.metrics:
            self.metrics.stop()
        self.runner.stop()
        self.detector.close()
        log.info("gunwatch stopped")
