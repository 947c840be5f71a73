"""A local HTTP MJPEG camera (multipart/x-mixed-replace, as IP cameras and Motion serve it)."""

from __future__ import annotations

from .local_server import LocalHTTPServer, QuietHandler

BOUNDARY = "gunwatchframe"


class MjpegCamera(LocalHTTPServer):
    def __init__(self, jpegs: list[bytes], repeat: int = 1, port: int = 0):
        self.jpegs, self.repeat = jpegs, repeat
        camera = self

        class Handler(QuietHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    for _ in range(camera.repeat):
                        for jpeg in camera.jpegs:
                            self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                             f"Content-Length: {len(jpeg)}\r\n\r\n".encode())
                            self.wfile.write(jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        super().__init__(Handler, port)  # HTTPServer sets SO_REUSEADDR: a restart gets the same port

    @property
    def url(self) -> str:
        return f"{self.base_url}/video.mjpg"
