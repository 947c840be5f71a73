"""Every package folder is listed in setup.cfg: a missing one works in an editable install and
is silently left out of a wheel (what install.sh deploys)."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"plugin": "gunwatch", "darknet_bindings": "gunwatch.darknet", "training": "gunwatch.training"}


def test_every_package_is_declared():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = set(config["options"]["packages"].split())
    on_disk = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([name, *relative.parts]))
    assert on_disk == declared
