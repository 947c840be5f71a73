"""A local HTTP endpoint that receives gunwatch's webhook POSTs, checks their signature, and can be
told to fail or to be slow."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

from .local_server import LocalHTTPServer, QuietHandler


class WebhookReceiver(LocalHTTPServer):
    def __init__(self, secret: bytes | None = None):
        self.secret = secret
        self.received: list[dict] = []        # accepted: {"body", "headers", "signature_ok"}
        self.statuses: list[int] = []         # scripted answers for the next requests
        self.delay_s = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms) on every keep-alive request.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                time.sleep(receiver.delay_s)
                if status < 300:
                    with receiver._lock:
                        receiver.received.append({"body": json.loads(body), "headers": dict(self.headers),
                                                  "signature_ok": receiver.verify(self.headers, body)})
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    def verify(self, headers, body: bytes) -> bool:
        """What a receiver does: recompute HMAC-SHA256 over "<timestamp>.<body>"."""
        if self.secret is None:
            return "X-Gunwatch-Signature" not in headers
        expected = hmac.new(self.secret, headers["X-Gunwatch-Timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("X-Gunwatch-Signature", ""), f"sha256={expected}")

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/gunwatch"
