"""The review pages' templates and stylesheet are declared as package data: an editable install
finds them without, a wheel (what install.sh deploys) would ship pages that 500."""

import configparser
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_every_template_and_stylesheet_is_package_data():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["gunwatch.web"].split(",")]
    web = ROOT / "plugin" / "web"
    files = [p.relative_to(web).as_posix() for p in web.rglob("*")
             if p.is_file() and p.suffix not in (".py", ".pyc")]
    assert files, "no templates found"
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert missing == []
