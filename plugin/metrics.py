"""`/metrics` (Prometheus text format) and `/healthz` on a local port, from the running pipeline.

No client library: the exposition format is a few lines of text, and the numbers already live
in the runner's counters and each source's status.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from pydantic import Field

from .errors import ConfigError
from .schema import GunwatchModel

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsConfig(GunwatchModel):
    enabled: bool = Field(True, description="serve /metrics and /healthz")
    listen: str = Field("127.0.0.1", description="address to listen on (127.0.0.1: this machine only)")
    port: int = Field(9870, ge=0, lt=65536, description="TCP port (0: any free port, for tests)")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _histogram(name: str, help_text: str, milliseconds) -> list[str]:
    samples = [ms / 1000 for ms in list(milliseconds)]
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    lines += [f'{name}_bucket{{le="{bound}"}} {sum(s <= bound for s in samples)}' for bound in LATENCY_BUCKETS_S]
    return lines + [f'{name}_bucket{{le="+Inf"}} {len(samples)}', f"{name}_sum {sum(samples):.6f}",
                    f"{name}_count {len(samples)}"]


def render(runner, extra: Callable[[], list[str]] | None = None) -> str:
    """The Prometheus exposition of a Runner's state."""
    c = runner.counters
    lines = ["# HELP gunwatch_frames_total Frames analysed, per camera.", "# TYPE gunwatch_frames_total counter"]
    lines += [f'gunwatch_frames_total{{camera="{_label(cam)}"}} {n}' for cam, n in sorted(c.frames.items())]
    lines += ["# HELP gunwatch_detections_total Detections that passed the camera filters.",
              "# TYPE gunwatch_detections_total counter", f"gunwatch_detections_total {c.detections}",
              "# HELP gunwatch_incidents_total Incidents opened.", "# TYPE gunwatch_incidents_total counter",
              f"gunwatch_incidents_total {c.incidents}",
              "# HELP gunwatch_pipeline_errors_total Frames or sinks that failed.",
              "# TYPE gunwatch_pipeline_errors_total counter", f"gunwatch_pipeline_errors_total {c.errors}",
              "# HELP gunwatch_inbox_frames Frames waiting for the detector.", "# TYPE gunwatch_inbox_frames gauge",
              f"gunwatch_inbox_frames {runner.inbox.waiting()}",
              "# HELP gunwatch_inbox_dropped_total Queued frames dropped because the inbox was full.",
              "# TYPE gunwatch_inbox_dropped_total counter", f"gunwatch_inbox_dropped_total {runner.inbox.dropped}"]
    lines += _histogram("gunwatch_detector_seconds", "Detection time per frame, regions included "
                        "(last 1000 frames).", c.detect_ms)
    lines += _histogram("gunwatch_person_pass_seconds", "Time of the person model on one frame, on "
                        "frames that ran it (last 1000).", c.person_ms)
    lines += _histogram("gunwatch_gun_pass_seconds", "Time of all gun-model passes of one frame "
                        "(last 1000 frames).", c.gun_ms)
    regions = list(c.regions)
    lines += ["# HELP gunwatch_regions_per_frame Regions the gun model looked at per frame (mean of the last 1000).",
              "# TYPE gunwatch_regions_per_frame gauge",
              f"gunwatch_regions_per_frame {sum(regions) / len(regions) if regions else 0:.3f}",
              "# HELP gunwatch_regions_dropped_total Regions left out by regions.max_regions.",
              "# TYPE gunwatch_regions_dropped_total counter", f"gunwatch_regions_dropped_total {c.regions_dropped}"]
    for name, kind, help_text, value in (
            ("gunwatch_source_up", "gauge", "1 while the source delivers frames.", lambda s: int(s.state == "running")),
            ("gunwatch_source_frames_total", "counter", "Frames handed over by the source.", lambda s: s.frames),
            ("gunwatch_source_errors_total", "counter", "Source failures (lost stream, unreadable file...).", lambda s: s.errors),
            ("gunwatch_source_fps", "gauge", "Frames per second handed over (last 10 s).", lambda s: round(s.fps, 3)),
            ("gunwatch_source_lag_seconds", "gauge", "Age of the newest frame when handed over.", lambda s: round(s.lag_s, 3))):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{source="{_label(src.name)}"}} {value(src.status)}' for src in runner.sources]
    if extra:
        lines += extra()
    return "\n".join(lines) + "\n"


def health(runner) -> tuple[bool, str]:
    """Healthy when the detector worker runs and every source's thread runs and delivers: a dead
    or restarting camera is what the admin's monitoring should page about."""
    problems = [] if runner.worker_alive() else ["detector worker is not running"]
    alive = runner.sources_alive()
    for s in runner.sources:
        restarts = f", restarted {s.status.restarts} times" if s.status.restarts else ""
        if not alive.get(s.name, False) and s.status.state != "stopped":
            problems.append(f"{s.name}: thread not running ({s.status.last_error or 'ended'}{restarts})")
        elif s.status.state != "running":
            problems.append(f"{s.name}: {s.status.state} ({s.status.last_error or 'no frames yet'}{restarts})")
    return not problems, ("ok" if not problems else "\n".join(problems)) + "\n"


class MetricsServer:
    def __init__(self, config: MetricsConfig, runner, extra: Callable[[], list[str]] | None = None):
        self.config, self.runner, self.extra = config, runner, extra
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # scrapes every 15 s would flood the log
                pass

            def do_GET(self):
                if self.path.split("?")[0] == "/metrics":
                    status, body, kind = 200, render(server.runner, server.extra), "text/plain; version=0.0.4"
                elif self.path.split("?")[0] == "/healthz":
                    ok, text = health(server.runner)
                    status, body, kind = (200 if ok else 503), text, "text/plain"
                else:
                    status, body, kind = 404, "try /metrics or /healthz\n", "text/plain"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        try:
            self.httpd = ThreadingHTTPServer((config.listen, config.port), Handler)
        except OSError as exc:
            raise ConfigError(f"metrics.port: cannot listen on {config.listen}:{config.port} "
                              f"({exc.strerror}); choose another port or set metrics.enabled: false") from exc
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> None:
        self.thread.start()
        log.info("metrics on http://%s:%d/metrics and /healthz", self.config.listen, self.port)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
