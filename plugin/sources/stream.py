"""Live streams: RTSP, HTTP (MJPEG), video files and webcams through cv2.VideoCapture (FFmpeg).

A reader thread pulls every frame the camera sends, so the decoder's buffer never fills with
stale frames, and keeps only the newest; the source hands that one over at the configured rate.
Analysis therefore always works on the present, never on a queue that grows while the detector
is busy. A lost stream is reopened with backoff (1, 2, 4 ... 60 s).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Literal

import cv2
from pydantic import Field

from ..checks import NETWORK_TIMEOUT_S, Checker
from ..schema import GunwatchModel
from ..domain import Frame
from ..untrusted import masked_url as masked
from ..model import InputSpec
from ..registry import register
from .base import FrameSink, SourceStatus, backoff_delays

log = logging.getLogger(__name__)


class StreamSourceConfig(GunwatchModel):
    type: Literal["stream"]
    camera: str = Field(description="camera name used in alerts and logs")
    url: str = Field(description="rtsp://, http(s)://, a video file, or a webcam number")
    fps: float = Field(2.0, gt=0, le=60, description="frames analysed per second at most")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP over TCP survives packet loss on busy networks; UDP has less delay")
    loop: bool = Field(False, description="video files: start again at the end (demos, tests)")
    timeout_s: float = Field(5.0, gt=0, description="a stream silent this long counts as lost "
                             "and is reopened (FFmpeg's own default is 30 s)")


def check_stream_source(doctor: Checker, name: str, source: StreamSourceConfig) -> None:
    url = source.url
    shown = masked(url)
    if url.isdigit():
        capture = cv2.VideoCapture(int(url))
    else:
        ms = int(min(source.timeout_s, NETWORK_TIMEOUT_S) * 1000)
        if url.startswith(("rtsp://", "rtsps://")):
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{source.rtsp_transport}"
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                        cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
    finally:
        capture.release()
    if not ok or frame is None:
        doctor.add(name, "FAIL", f"camera {source.camera}: cannot open or read {shown}",
                   "check the URL, user and password (try it with ffplay), and that this host reaches the camera")
        return
    doctor.add(name, "OK", f"camera {source.camera}: {shown} gives {frame.shape[1]}x{frame.shape[0]} frames")


@register("source", "stream")
class StreamSource:
    delivery = "latest"
    Config = StreamSourceConfig
    doctor_check = staticmethod(check_stream_source)

    def __init__(self, config: StreamSourceConfig, spec: InputSpec):
        self.config = config
        self.name = f"stream:{config.camera}"
        self.status = SourceStatus(self.name)
        self._newest: tuple[float, object] | None = None
        self._newest_lock = threading.Lock()

    def _open(self) -> cv2.VideoCapture:
        url = self.config.url
        if url.startswith(("rtsp://", "rtsps://")):
            # FFmpeg reads its options from the environment when OpenCV opens a capture.
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"rtsp_transport;{self.config.rtsp_transport}"
        if url.isdigit():
            return cv2.VideoCapture(int(url))
        timeout_ms = int(self.config.timeout_s * 1000)
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                                                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms])

    def _read_all(self, capture: cv2.VideoCapture, stop: threading.Event, ended: threading.Event) -> None:
        is_file = os.path.isfile(self.config.url)
        frame_gap = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or 25.0) if is_file else 0.0
        while not stop.is_set():
            ok, image = capture.read()
            if not ok:
                if is_file and self.config.loop:
                    capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    continue
                break
            with self._newest_lock:
                self._newest = (time.time(), image)
            if frame_gap:
                time.sleep(frame_gap)  # play files at their own speed, like a camera would
        ended.set()

    def run(self, sink: FrameSink, stop: threading.Event) -> None:
        delays = backoff_delays()
        period = 1.0 / self.config.fps
        while not stop.is_set():
            capture = self._open()
            if not capture.isOpened():
                capture.release()
                self.status.failed("cannot open stream")
                wait = next(delays)
                log.warning("source=%s cannot open %s; retrying in %.0f s", self.name,
                            masked(self.config.url), wait)
                stop.wait(wait)
                continue
            log.info("source=%s opened %s", self.name, masked(self.config.url))
            ended = threading.Event()
            reader = threading.Thread(target=self._read_all, args=(capture, stop, ended),
                                      name=f"{self.name}-reader", daemon=True)
            reader.start()
            handed: float | None = None
            while not stop.is_set() and not ended.is_set():
                with self._newest_lock:
                    newest, self._newest = self._newest, None
                if newest is not None:
                    captured_at, image = newest
                    handed = time.monotonic()
                    self.status.frame(captured_at)
                    sink(Frame(camera=self.config.camera, image=image, at=captured_at,
                               origin=masked(self.config.url)))
                    delays = backoff_delays()
                    stop.wait(max(0.0, period - (time.monotonic() - handed)))
                else:
                    stop.wait(0.01)
            reader.join(timeout=5)
            capture.release()
            if not stop.is_set() and os.path.isfile(self.config.url):
                log.info("source=%s reached the end of %s", self.name, self.config.url)
                break
            if not stop.is_set():
                self.status.failed("stream ended")
                wait = next(delays)
                log.warning("source=%s stream %s ended; reconnecting in %.0f s", self.name,
                            masked(self.config.url), wait)
                stop.wait(wait)
        self.status.state = "stopped"
