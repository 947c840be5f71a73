"""Serves the web app from a thread beside the pipeline (werkzeug's threaded WSGI server: a few
people and a Prometheus scraper, no need for a separate process)."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

from prometheus_client.core import Metric
from werkzeug.serving import WSGIRequestHandler, make_server

from ..errors import ConfigError
from ..metrics import MetricsConfig
from .app import create_app, link_signature

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args) -> None:  # a scrape every 15 s would flood the log
        pass


class WebServer:
    def __init__(self, config: MetricsConfig, config_of: Callable[[], object], runner_of: Callable[[], object],
                 extra_metrics: Callable[[], Iterable[Metric]] | None = None):
        self.config = config
        self.app = create_app(config_of, runner_of, extra_metrics)
        try:
            self.httpd = make_server(config.listen, config.port, self.app, threaded=True,
                                     request_handler=_QuietHandler)
        except (OSError, SystemExit) as exc:
            # werkzeug exits (SystemExit) on a port in use when it is not the reloader's child.
            reason = getattr(exc, "strerror", None) or "address in use or not available"
            raise ConfigError(f"metrics.port: cannot listen on {config.listen}:{config.port} ({reason}); "
                              "choose another port or set metrics.enabled: false") from exc
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="web", daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_port

    @property
    def page_url(self) -> str | None:
        return self.config.page_url(self.port)

    def sign(self, name: str) -> str:
        return link_signature(self.app.extensions["gunwatch"]["key"], name)

    def start(self) -> None:
        self.thread.start()
        host = f"[{self.config.listen}]" if ":" in self.config.listen else self.config.listen
        log.info("review pages on http://%s:%d/ (metrics on /metrics, health on /healthz)%s", host, self.port,
                 ", login required" if self.config.login_required else "")

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.app.extensions["gunwatch"]["store"].close()
