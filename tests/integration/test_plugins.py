"""A plugin is one package with one `register` call: a source plugin installed beside gunwatch
(here a package and its dist-info in a temp folder on PYTHONPATH, as pip would leave them) shows
up in config validation, `gunwatch doctor` and `gunwatch config docs` without any other file of
gunwatch changing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = '''
from typing import Literal

from pydantic import Field

from gunwatch.registry import register
from gunwatch.schema import GunwatchModel


class DoorbellConfig(GunwatchModel):
    type: Literal["doorbell"]
    chime: str = Field("ding", description="what the doorbell camera plays when it sees a gun")


def check_doorbell(doctor, label, config):
    doctor.add(label, "OK", f"doorbell would play {config.chime}")


@register("source", "doorbell")
class DoorbellSource:
    Config = DoorbellConfig
    doctor_check = staticmethod(check_doorbell)

    def __init__(self, config, spec):
        self.config = config
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    """A folder holding the package `gw_doorbell` and the dist-info that names it as a
    `gunwatch.plugins` entry point."""
    site = tmp_path / "site"
    (site / "gw_doorbell").mkdir(parents=True)
    (site / "gw_doorbell" / "__init__.py").write_text(PLUGIN)
    info = site / "gw_doorbell-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gw-doorbell\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gunwatch.plugins]\ndoorbell = gw_doorbell\n")
    return site


def gunwatch(*args: str, path: Path | None, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(path) if path else ""}
    return subprocess.run([sys.executable, "-m", "gunwatch", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def config_file(tmp_path: Path, chime: str) -> Path:
    path = tmp_path / "gunwatch.yml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\nsources:\n  - type: doorbell\n    chime: {chime}\n")
    return path


def test_an_installed_source_plugin_is_validated_checked_and_documented(tmp_path, plugin_path):
    good = config_file(tmp_path, "dong")
    checked = gunwatch("config", "check", "--config", str(good), path=plugin_path, cwd=tmp_path)
    assert checked.returncode == 0 and "OK" in checked.stdout, checked.stderr

    bad = config_file(tmp_path, "[1, 2]")
    refused = gunwatch("config", "check", "--config", str(bad), path=plugin_path, cwd=tmp_path)
    assert refused.returncode == 2 and "sources.0.doorbell.chime" in refused.stderr, refused.stderr

    docs = gunwatch("config", "docs", path=plugin_path, cwd=tmp_path)
    assert docs.returncode == 0 and "what the doorbell camera plays" in docs.stdout

    doctor = gunwatch("doctor", "--config", str(config_file(tmp_path, "dong")), "--json",
                      path=plugin_path, cwd=tmp_path)
    results = {r["check"]: r for r in json.loads(doctor.stdout)}
    assert results["sources.0 (doorbell)"] == {"check": "sources.0 (doorbell)", "state": "OK",
                                               "detail": "doorbell would play dong", "fix": ""}


def test_without_the_plugin_the_type_is_unknown_and_named(tmp_path):
    refused = gunwatch("config", "check", "--config", str(config_file(tmp_path, "dong")), path=None, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "sources.0" in refused.stderr and "'doorbell'" in refused.stderr and "zoneminder" in refused.stderr
