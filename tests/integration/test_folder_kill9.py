"""kill -9 of `gunwatch run` in the middle of a burst of pictures, more pictures written while it
is down, then a restart: every picture is analysed, each exactly once (the folder journal).

Real process, real files, the real detector (COCO yolov3-tiny through OpenCV)."""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ..support.hostile import encoded
from ..support.wait import wait_for

ANALYSED = re.compile(r"file=(\S+) analysed")


class Service:
    """`gunwatch run` with its stderr read line by line in a thread."""

    def __init__(self, config: Path):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunwatch", "--log-level", "DEBUG", "run", "--config", str(config),
             "--for", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def analysed(self) -> list[str]:
        return [Path(m.group(1)).name for line in list(self.lines) if (m := ANALYSED.search(line))]

    def wait_for(self, condition, timeout: float) -> bool:
        """Whether `condition` came true within `timeout` s, or by the time gunwatch exited."""
        return bool(wait_for(condition, timeout, give_up=lambda: self.process.poll() is not None))


@pytest.fixture
def config(tmp_path, coco_tiny_cfg):
    watched = tmp_path / "snapshots"
    watched.mkdir()
    path = tmp_path / "gunwatch.yml"
    path.write_text(f"""
state_dir: {tmp_path / 'state'}
metrics: {{enabled: false}}
detector: {{backend: opencv, model: {coco_tiny_cfg}, confidence: 0.3}}
sources:
  - type: folder
    paths: [{watched}]
    settle_s: 0.2
defaults:
  labels: [person]
""")
    return path, watched


def test_kill_9_during_a_burst_and_pictures_written_while_down(config):
    path, watched = config
    first = Service(path)
    try:
        assert first.wait_for(lambda: any("watching" in line for line in first.lines), 60), first.lines
        for i in range(20):
            (watched / f"burst-{i:02d}.jpg").write_bytes(encoded(".jpg", 640 + i, 480))
        assert first.wait_for(lambda: len(first.analysed()) >= 3, 60), first.lines[-20:]
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        first.reader.join(timeout=5)
    before_kill = first.analysed()
    for i in range(10):
        (watched / f"down-{i:02d}.jpg").write_bytes(encoded(".jpg", 700 + i, 480))
    expected = {f"burst-{i:02d}.jpg" for i in range(20)} | {f"down-{i:02d}.jpg" for i in range(10)}
    second = Service(path)
    try:
        assert second.wait_for(lambda: set(before_kill + second.analysed()) >= expected, 120), \
            (before_kill, second.analysed(), second.lines[-20:])
        time.sleep(1.0)  # anything analysed twice would show up now
    finally:
        second.process.terminate()
        second.process.wait(timeout=30)
        second.reader.join(timeout=5)
    counts = collections.Counter(before_kill + second.analysed())
    print(f"kill -9 after {len(before_kill)} of 20 analysed; after the restart {len(second.analysed())} "
          f"analysed ({20 - len(before_kill)} left from the burst + 10 written while down)")
    assert set(counts) == expected
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n != 1}
    assert any("pictures written or not analysed while gunwatch was down" in line for line in second.lines)
