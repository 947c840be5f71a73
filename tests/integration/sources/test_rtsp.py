"""The stream source on a real RTSP stream: Debian's rtsp-server-perl relays what an ffmpeg
publisher sends (H.264 over RTP/UDP), as an IP camera would serve it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from gunwatch.model import InputSpec
from gunwatch.sources.stream import StreamSource, StreamSourceConfig

from ...conftest import need
from ...support.ports import free_port
from ...support.wait import wait_for
from .test_folder import Collected


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def rtsp_camera():
    need(shutil.which("rtsp-server-perl") is not None, "rtsp-server-perl missing (apt-get install rtsp-server-perl)")
    need(shutil.which("ffmpeg") is not None, "ffmpeg missing")
    client_port, source_port = free_port(), free_port()
    server = subprocess.Popen(["rtsp-server-perl", "-c", str(client_port), "-s", str(source_port), "-l", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: port_open(source_port), 10, interval=0.1), "rtsp-server-perl did not start"
    publishers = []

    def publish() -> subprocess.Popen:
        process = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10",
             "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "10",
             "-f", "rtsp", f"rtsp://127.0.0.1:{source_port}/cam"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        publishers.append(process)
        return process

    yield f"rtsp://127.0.0.1:{client_port}/cam", publish
    for process in publishers + [server]:
        process.kill()
        process.wait(timeout=10)


def test_rtsp_stream_sampled_and_reconnected(rtsp_camera):
    url, publish = rtsp_camera
    publisher = publish()
    time.sleep(1.5)  # the relay knows the stream once the publisher has announced it
    source = StreamSource(StreamSourceConfig(type="stream", camera="gate", url=url, fps=4,
                                             rtsp_transport="udp"), InputSpec())
    collected, stop = Collected(), threading.Event()
    thread = threading.Thread(target=source.run, args=(collected, stop), daemon=True)
    thread.start()
    try:
        frames = collected.wait_for(6, timeout=20)
        assert len(frames) >= 6 and frames[0].image.shape == (360, 640, 3)
        assert source.status.lag_s < 2.0
        publisher.terminate()  # the camera goes away (a hard kill leaves the relay holding the mount)
        wait_for(lambda: source.status.state == "retrying", 30, interval=0.1)
        assert source.status.state == "retrying"
        before = len(collected.frames)
        publish()  # and comes back
        assert len(collected.wait_for(before + 4, timeout=40)) >= before + 4
    finally:
        stop.set()
        thread.join(timeout=15)
