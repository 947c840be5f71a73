"""The example config shipped to admins must itself be valid."""

import re
from pathlib import Path

from gunwatch.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "install" / "gunwatch.example.yml"


def test_example_config_is_valid(monkeypatch):
    monkeypatch.setenv("YARD_PASSWORD", "x")
    config = load_config(EXAMPLE)
    assert config.sources and config.sources[0].type == "folder"
    assert config.defaults.confirm.hits == 4


def test_example_states_no_threshold_the_model_does_not_use():
    """The detector's commented defaults must not name numbers of their own (they said 0.5 and
    0.45 while the shipped model uses 0.6 and 0.4): a number there must be the default model's."""
    from gunwatch.model import load_model

    thresholds = load_model(None).meta.thresholds
    detector = EXAMPLE.read_text().split("\ndetector:\n", 1)[1].split("\n\n", 1)[0]
    for key in ("confidence", "nms"):
        match = re.search(rf"^\s*#?\s*{key}:\s*([0-9.]+)", detector, re.MULTILINE)
        if match:
            assert float(match.group(1)) == getattr(thresholds, key), match.group(0)


def test_installer_source_hints_are_valid_sources():
    """The installer's closing hints are pasted into the config by admins: each must parse, and
    the Frigate one must name the authenticated port that a stock Frigate publishes (it said
    http://...:5000, which the README and the example no longer use)."""
    import textwrap

    from gunwatch.config import Environment, parse_config

    installer = (EXAMPLE.parent / "install.sh").read_text()
    hints = re.findall(r"^( {6}- type: \w+\n(?: {8}.*\n)+)", installer, re.MULTILINE)
    assert len(hints) == 2, hints
    env = Environment({"ZM_PASSWORD": "x", "FRIGATE_PASSWORD": "x"})
    parsed = {}
    for hint in hints:
        text = textwrap.dedent(hint).replace("\\${", "${").replace("MQTT-HOST", "127.0.0.1")
        text = text.replace("FRIGATE-HOST", "frigate")
        source = parse_config("sources:\n" + textwrap.indent(text, "  "), "install.sh", env).sources[0]
        parsed[source.type] = source
    assert set(parsed) == {"zoneminder", "frigate"}
    frigate = parsed["frigate"]
    assert str(frigate.url).startswith("https://frigate:8971") and frigate.auth is not None
