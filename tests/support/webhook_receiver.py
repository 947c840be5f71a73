"""A local HTTP endpoint that receives gunwatch's webhook POSTs, checks their signature, and can be
told to fail or to be slow."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, secret: bytes | None = None):
        self.secret = secret
        self.received: list[dict] = []        # accepted: {"body", "headers", "signature_ok"}
        self.statuses: list[int] = []         # scripted answers for the next requests
        self.delay_s = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms) on every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def verify(self, headers, body: bytes) -> bool:
        """What a receiver does: recompute HMAC-SHA256 over "<timestamp>.<body>"."""
        if self.secret is None:
            return "X-Gunwatch-Signature" not in headers
        expected = hmac.new(self.secret, headers["X-Gunwatch-Timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        return hmac.compare_digest(headers.get("X-Gunwatch-Signature", ""), f"sha256={expected}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gunwatch"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
