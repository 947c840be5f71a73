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


# ------------------------------------------------------------------ the environment file
TWILIO = """alerts:
  channels:
    sms: {type: twilio_sms, account_sid: AC0123456789abcdef0123456789abcdef, auth_token: '${GW_ENV_TOKEN}',
          from_number: '+15550000100', recipients: ['+15551234567']}
"""


def installed_config(folder, env_text: str | None):
    """A config with a ${VAR} secret, and the service's `environment` file beside it."""
    folder.mkdir(exist_ok=True)
    (folder / "gunwatch.yml").write_text(TWILIO)
    if env_text is not None:
        (folder / "environment").write_text(env_text)
    return folder / "gunwatch.yml"


def token(config) -> str:
    return config.alerts.channels["sms"].auth_token.get_secret_value()


def test_secret_resolves_from_the_environment_file_beside_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv("GW_ENV_TOKEN", raising=False)
    path = installed_config(tmp_path / "etc", "# secrets\nGW_ENV_TOKEN=\"from-file\"\n")
    assert token(load_config(path)) == "from-file"
    monkeypatch.setenv("GW_ENV_TOKEN", "from-process")   # as with systemd: set variables win
    assert token(load_config(path)) == "from-process"


def test_env_file_option_replaces_the_file_beside(tmp_path, monkeypatch):
    monkeypatch.delenv("GW_ENV_TOKEN", raising=False)
    path = installed_config(tmp_path / "etc", "GW_ENV_TOKEN=beside\n")
    (tmp_path / "other.env").write_text("GW_ENV_TOKEN=named\n")
    assert token(load_config(path, tmp_path / "other.env")) == "named"
    with pytest.raises(ConfigError, match=r"nowhere.env: no such environment file \(--env-file\)"):
        load_config(path, tmp_path / "nowhere.env")


def test_environment_file_that_cannot_be_read_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.delenv("GW_ENV_TOKEN", raising=False)
    path = installed_config(tmp_path / "etc", None)
    (tmp_path / "etc" / "environment").mkdir()   # unreadable even for root, unlike a chmod 000 file
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert "alerts.channels.sms.auth_token: environment variable GW_ENV_TOKEN is not set" in message
    assert "environment exists but cannot be read (Is a directory): run as root or as the service user" in message


def test_without_an_environment_file_the_error_says_where_it_goes(tmp_path, monkeypatch):
    monkeypatch.delenv("GW_ENV_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="put it in the environment file beside the config"):
        load_config(installed_config(tmp_path / "etc", None))
