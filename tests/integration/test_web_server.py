"""The web app served from its thread: answers on the port it got, and a port already taken is a
config error naming the key, not a crash. Real sockets on 127.0.0.1, so not a unit test (the app's
pages without a server: tests/unit/web)."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from gunwatch.errors import ConfigError
from gunwatch.web.server import WebServer

from ..support.review_app import make_review


def test_served_on_its_port_and_a_taken_port_names_the_key(tmp_path):
    r = make_review(tmp_path, {"port": 0})
    server = WebServer(r.config.metrics, lambda: r.config, lambda: r.runner)
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as reply:
            assert reply.status == 200 and b"Incidents" in reply.read()
        taken = r.config.metrics.model_copy(update={"port": server.port})
        with pytest.raises(ConfigError, match=f"metrics.port: cannot listen on 127.0.0.1:{server.port}"):
            WebServer(taken, lambda: r.config, lambda: r.runner)
    finally:
        server.stop()
        r.sink.close()
    with socket.socket() as s:  # stopped: the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", server.port))
