"""`/metrics` (Prometheus, through prometheus-client) and `/healthz` of the running pipeline.

The numbers live in the runner's counters and each source's status; a collector reads them at
scrape time, so nothing is counted twice. The web app (`gunwatch.web`) serves both beside the
review pages.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from pydantic import AnyHttpUrl, Field, SecretStr, model_validator

from .schema import GunwatchModel

log = logging.getLogger(__name__)

LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach an address gunwatch listens on."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsConfig(GunwatchModel):
    """The web app: review pages at `/`, `/metrics` and `/healthz`, on one address and port."""

    enabled: bool = Field(True, description="serve the review pages, /metrics and /healthz")
    listen: str = Field("127.0.0.1", description="address to listen on (127.0.0.1: this machine only; "
                                                 "any other address needs `token` or `user` and `password`)")
    port: int = Field(9870, ge=0, lt=65536, description="TCP port (0: any free port, for tests)")
    public_url: AnyHttpUrl | None = Field(
        None, description="where people reach the pages, e.g. https://nvr.example.org/gunwatch "
                          "(default: http://listen:port when listen is not 127.0.0.1); snapshot links "
                          "in alerts use it unless alerts.snapshot_base_url is set")
    token: SecretStr | None = Field(None, description="login token (form field or `Authorization: Bearer`); "
                                                      "write it as ${GUNWATCH_WEB_TOKEN} in the environment file")
    user: str | None = Field(None, description="login user name (with `password`)")
    password: SecretStr | None = Field(None, description="login password, e.g. ${GUNWATCH_WEB_PASSWORD}")

    @model_validator(mode="after")
    def _login_off_this_machine(self) -> MetricsConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("set both `user` and `password`, or neither")
        if self.password is not None and not self.password.get_secret_value():
            raise ValueError("`password` is empty (is its ${VARIABLE} set in the environment file?)")
        if self.token is not None and len(self.token.get_secret_value()) < 16:
            raise ValueError("`token` must be at least 16 characters (e.g. `openssl rand -hex 16`)")
        if self.enabled and not is_loopback(self.listen) and not self.login_required:
            raise ValueError(f"listen {self.listen!r} is reachable from other machines: set `token`, or "
                             "`user` and `password`, so the review pages ask for a login (or listen on "
                             "127.0.0.1)")
        return self

    @property
    def login_required(self) -> bool:
        return self.token is not None or self.password is not None

    def page_url(self, port: int) -> str | None:
        """The pages' address for people on other machines; None when only this machine reaches it."""
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        if is_loopback(self.listen):
            return None
        host = socket.getfqdn() if self.listen in ("0.0.0.0", "::", "") else self.listen
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _histogram(name: str, help_text: str, milliseconds) -> HistogramMetricFamily:
    samples = [ms / 1000 for ms in list(milliseconds)]
    buckets = [(str(bound), sum(s <= bound for s in samples)) for bound in LATENCY_BUCKETS_S]
    return HistogramMetricFamily(name, help_text, buckets=buckets + [("+Inf", len(samples))],
                                 sum_value=sum(samples))


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def collect(runner) -> Iterator[Metric]:
    """The metric families of a Runner's state."""
    c = runner.counters
    frames = CounterMetricFamily("gunwatch_frames_total", "Frames analysed, per camera.", labels=["camera"])
    for cam, n in sorted(c.frames.items()):
        frames.add_metric([cam], n)
    yield frames
    yield _counter("gunwatch_detections_total", "Detections that passed the camera filters.", c.detections)
    yield _counter("gunwatch_incidents_total", "Incidents opened.", c.incidents)
    yield _counter("gunwatch_pipeline_errors_total", "Frames or sinks that failed.", c.errors)
    yield _gauge("gunwatch_inbox_frames", "Frames waiting for the detector.", runner.inbox.waiting())
    yield _counter("gunwatch_inbox_dropped_total", "Queued frames dropped because the inbox was full.",
                   runner.inbox.dropped)
    yield _histogram("gunwatch_detector_seconds", "Detection time per frame, regions included "
                     "(last 1000 frames).", c.detect_ms)
    yield _histogram("gunwatch_person_pass_seconds", "Time of the person model on one frame, on "
                     "frames that ran it (last 1000).", c.person_ms)
    yield _histogram("gunwatch_gun_pass_seconds", "Time of all gun-model passes of one frame "
                     "(last 1000 frames).", c.gun_ms)
    regions = list(c.regions)
    yield _gauge("gunwatch_regions_per_frame", "Regions the gun model looked at per frame (mean of the "
                 "last 1000).", sum(regions) / len(regions) if regions else 0.0)
    yield _counter("gunwatch_regions_dropped_total", "Regions left out by regions.max_regions.",
                   c.regions_dropped)
    for name, family, help_text, value in (
            ("gunwatch_source_up", GaugeMetricFamily, "1 while the source delivers frames.",
             lambda s: int(s.state == "running")),
            ("gunwatch_source_frames_total", CounterMetricFamily, "Frames handed over by the source.",
             lambda s: s.frames),
            ("gunwatch_source_errors_total", CounterMetricFamily, "Source failures (lost stream, "
             "unreadable file...).", lambda s: s.errors),
            ("gunwatch_source_fps", GaugeMetricFamily, "Frames per second handed over (last 10 s).",
             lambda s: round(s.fps, 3)),
            ("gunwatch_source_lag_seconds", GaugeMetricFamily, "Age of the newest frame when handed over.",
             lambda s: round(s.lag_s, 3))):
        metric = family(name, help_text, labels=["source"])
        for src in runner.sources:
            metric.add_metric([src.name], value(src.status))
        yield metric


class _Collector:
    """Reads the runner it is given at scrape time: a reload swaps the runner, not the collector."""

    def __init__(self, runner_of: Callable[[], object], extra: Callable[[], Iterable[Metric]] | None):
        self.runner_of, self.extra = runner_of, extra

    def collect(self) -> Iterator[Metric]:
        yield from collect(self.runner_of())
        if self.extra:
            yield from self.extra()


def registry(runner_of: Callable[[], object],
             extra: Callable[[], Iterable[Metric]] | None = None) -> CollectorRegistry:
    """A registry of its own (not the library's global one): two apps in one process, as in
    tests, must not see each other's metrics."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Collector(runner_of, extra))
    return reg


def render(runner, extra: Callable[[], Iterable[Metric]] | None = None) -> str:
    """The Prometheus text exposition of a Runner's state."""
    return generate_latest(registry(lambda: runner, extra)).decode()


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
