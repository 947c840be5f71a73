"""A local HTTP server answering the Frigate 0.14 endpoints gunwatch uses, recording writes.

GET  /api/version                           -> "0.14.1"
GET  /api/<camera>/latest.jpg               -> the camera's current picture (set by the test)
POST /api/events/<id>/sub_label             -> 200 {"success": true}; 404 for unknown events
POST /api/events/<camera>/<label>/create    -> 200 {"success": true, "event_id": ...}
"""

from __future__ import annotations

import json
import threading

from .local_server import LocalHTTPServer, QuietHandler


class FakeFrigate(LocalHTTPServer):
    def __init__(self):
        self.pictures: dict[str, bytes] = {}
        self.known_events: set[str] = set()
        self.fetches: dict[str, int] = {}
        self.posts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        frigate = self

        class Handler(QuietHandler):
            def _reply(self, status: int, body: bytes, kind: str = "application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                parts = path.strip("/").split("/")
                if path == "/api/version":
                    return self._reply(200, b"0.14.1", "text/plain")
                if len(parts) == 3 and parts[0] == "api" and parts[2] == "latest.jpg":
                    camera = parts[1]
                    with frigate.lock:
                        picture = frigate.pictures.get(camera)
                        frigate.fetches[camera] = frigate.fetches.get(camera, 0) + 1
                    if picture is None:
                        return self._reply(404, b'{"success": false, "message": "Camera not found"}')
                    return self._reply(200, picture, "image/jpeg")
                self._reply(404, b'{"success": false}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.strip("/").split("/")
                with frigate.lock:
                    frigate.posts.append((self.path, body))
                if len(parts) == 4 and parts[1] == "events" and parts[3] == "sub_label":
                    if parts[2] not in frigate.known_events:
                        return self._reply(404, b'{"success": false, "message": "Event not found"}')
                    return self._reply(200, b'{"success": true, "message": "Event sub label set"}')
                if len(parts) == 5 and parts[1] == "events" and parts[4] == "create":
                    return self._reply(200, json.dumps({"success": True, "message": "Successfully created event.",
                                                        "event_id": "1700000000.0-manual"}).encode())
                self._reply(404, b'{"success": false}')

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return self.base_url

    def fetch_count(self, camera: str) -> int:
        with self.lock:
            return self.fetches.get(camera, 0)

    def posted(self, suffix: str) -> list[dict]:
        with self.lock:
            return [body for path, body in self.posts if path.endswith(suffix)]
