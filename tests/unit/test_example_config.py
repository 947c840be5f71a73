"""The example config shipped to admins must itself be valid."""

from pathlib import Path

from gunwatch.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "install" / "gunwatch.example.yml"


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("YARD_PASSWORD", "x")
    config = load_config(EXAMPLE)
    assert config.sources and config.sources[0].type == "folder"
    assert config.defaults.confirm.hits == 4
