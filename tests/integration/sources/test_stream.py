"""The stream source against a local HTTP MJPEG camera and a video file: sampling rate, newest
frame only, reconnection after the camera goes away."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from gunwatch.model import InputSpec
from gunwatch.sources.stream import StreamSource, StreamSourceConfig, masked

from ...support.mjpeg_server import MjpegCamera
from ...support.wait import wait_for
from .test_folder import Collected


def numbered_jpegs(count: int) -> list[bytes]:
    frames = []
    for i in range(count):
        image = np.zeros((240, 320, 3), np.uint8)
        image[:, :, 1] = i  # the frame number, readable after JPEG round trip as the mean
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    return frames


def start(config: StreamSourceConfig):
    source, collected, stop = StreamSource(config, InputSpec()), Collected(), threading.Event()
    thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
    thread.start()
    return source, collected, stop, thread


def test_masked_url():
    assert masked("rtsp://admin:secret@10.0.0.5/ch1") == "rtsp://admin:***@10.0.0.5/ch1"
    assert masked("/videos/a.mp4") == "/videos/a.mp4"


def test_samples_a_video_file_at_the_configured_rate(tmp_path):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 20, (320, 240))
    for _ in range(60):  # 3 s at 20 fps
        writer.write(np.full((240, 320, 3), 90, np.uint8))
    writer.release()
    source, collected, stop, thread = start(StreamSourceConfig(type="stream", camera="file", url=str(video), fps=4))
    time.sleep(2.5)
    stop.set()
    thread.join(timeout=5)
    count = len(collected.frames)
    assert 6 <= count <= 12, count  # ~4 per second, not 20
    assert all(f.camera == "file" and not f.single_frame for f in collected.frames)


def test_newest_frame_only_and_reconnect(tmp_path):
    jpegs = numbered_jpegs(200)
    camera = MjpegCamera(jpegs, repeat=1)
    with camera:
        port = camera.server.server_address[1]
        source, collected, stop, thread = start(StreamSourceConfig(type="stream", camera="cam", url=camera.url, fps=2))
        first = collected.wait_for(1)
        assert first, "no frame from the MJPEG camera"
    # the camera streamed 200 frames as fast as it could; at 2 fps the source skipped most of
    # them instead of queueing: few frames, and later ones are newer
    assert len(collected.frames) < 30
    means = [int(round(f.image[:, :, 1].mean())) for f in collected.frames]
    assert means == sorted(means)
    # the camera is gone: the source says so and retries
    wait_for(lambda: source.status.state == "retrying", 10)
    assert source.status.state == "retrying"
    before = len(collected.frames)
    with MjpegCamera(jpegs, repeat=50, port=port):  # the camera is back at the same address
        assert len(collected.wait_for(before + 2, timeout=15)) >= before + 2
    stop.set()
    thread.join(timeout=10)
    assert source.status.errors >= 1 and source.status.state == "stopped"
