"""Config loading: every broken file says which key and what to do."""

import pytest

from gunwatch.config import load_config, parse_config
from gunwatch.errors import ConfigError


def test_empty_file_gives_defaults():
    config = parse_config("")
    assert config.detector.backend == "auto"
    assert str(config.state_dir) == "/var/lib/gunwatch"


def test_values_and_env_substitution(monkeypatch):
    monkeypatch.setenv("GW_MODEL", "/opt/models/gun")
    config = parse_config("detector:\n  model: ${GW_MODEL}\n  confidence: 0.6\n"
                          "state_dir: ${GW_STATE:-/tmp/gw}\n")
    assert config.detector.model == "/opt/models/gun"
    assert config.detector.confidence == 0.6
    assert str(config.state_dir) == "/tmp/gw"


@pytest.mark.parametrize("text, expected", [
    ("detector:\n  backnd: opencv\n", "cfg.yml: detector.backnd: Extra inputs are not permitted"),
    ("detector:\n  backend: tensorrt\n", "detector.backend: Input should be 'auto', 'darknet', 'opencv' or 'torch' (got 'tensorrt')"),
    ("detector:\n  confidence: 1.5\n", "detector.confidence: Input should be less than or equal to 1 (got 1.5)"),
    ("detector: [1, 2]\n", "detector: Input should be a valid dictionary"),
    ("- a\n- b\n", "the top level must be a mapping"),
    ("detector:\n  backend: [\n", "not valid YAML"),
])
def test_errors_name_the_key(text, expected):
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "cfg.yml")
    assert expected in str(exc.value)


def test_typo_error_says_what_to_do():
    with pytest.raises(ConfigError, match="remove it or check its spelling"):
        parse_config("detectr: {}\n")


def test_missing_env_var_names_key_and_variable(monkeypatch):
    monkeypatch.delenv("GW_NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"detector.model: environment variable GW_NOPE is not set"):
        parse_config("detector:\n  model: ${GW_NOPE}\n")


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.yml")
    path = tmp_path / "g.yml"
    path.write_text("log_level: LOUD\n")
    with pytest.raises(ConfigError, match=f"{path}: log_level"):
        load_config(path)
