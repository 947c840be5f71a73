"""docs/config.md is generated from the config schema; it must not fall behind the code."""

from pathlib import Path

from gunwatch.cli.config_cmd import markdown
from gunwatch.config import GunwatchConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_config_reference_is_current():
    expected = markdown(GunwatchConfig.model_json_schema())
    assert DOC.read_text() == expected + "\n", "run: gunwatch config docs > docs/config.md"
