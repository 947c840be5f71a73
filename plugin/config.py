"""The one YAML configuration file: load, substitute secrets from the environment, validate.

Every section is a pydantic model with extra="forbid", so a misspelt key is an error that names
it. Secrets may be written as ${ENV_VAR} (or ${ENV_VAR:-default}) anywhere a string goes; they
are substituted at load time and kept as SecretStr where the schema says so, so they never
appear in logs or error messages.

Variables come from the process's environment first, then from the file `environment` beside
the config file (or the one --env-file names): the service gets that file from systemd's
EnvironmentFile, and a command started by hand must resolve ${TWILIO_AUTH_TOKEN} the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from . import registry, safe_yaml
from .alerts.config import AlertsConfig
from .errors import ConfigError
from .metrics import MetricsConfig
from .paths import example_config
from .pipeline.confirm import ConfirmSettings
from .pipeline.filters import FrameFilter
from .regions.config import RegionSettings
from .schema import GunwatchModel

DEFAULT_PATHS = (Path("/etc/gunwatch/gunwatch.yml"),)
ENV_FILE_NAME = "environment"   # beside the config: /etc/gunwatch/environment for the service
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# `auto` and every registered detector plugin.
Backend = Literal[("auto", *registry.names("detector"))]  # type: ignore[valid-type]


class DetectorConfig(GunwatchModel):
    backend: Backend = Field(
        "auto", description="detector engine; auto measures those that load here once and keeps "
        "the fastest (torch: PyTorch, bfloat16 on CPUs with AVX-512 BF16, needs `pip install torch`)")
    model: str | None = Field(
        None, description="model bundle folder, darknet .cfg, or bundled model name "
        "(default: gun-tiny-ensemble)")
    darknet_library: Path | None = Field(
        None, description="libdarknet.so to try first (default: search, see docs/darknet.md)")
    confidence: float | None = Field(
        None, ge=0, le=1, description="minimum detection confidence (default: the model's)")
    nms: float | None = Field(
        None, gt=0, le=1, description="IoU above which overlapping boxes merge (default: the model's)")
    person_model: str = Field(
        "person-yolov4-tiny", description="COCO model bundle (folder or bundled name) that finds "
        "the people of `person` regions; loaded only when a camera may use them")
    person_backend: Backend = Field(
        "auto", description="engine of the person model (auto: the faster one that can run it; "
        "Debian's libdarknet cannot run yolov4-tiny, so auto picks opencv there)")
    person_confidence: float = Field(
        0.3, ge=0, le=1, description="minimum confidence of a person box that gets a crop")
    person_input: int | None = Field(
        None, ge=128, le=1280, multiple_of=32, description="side of the person model's input in "
        "pixels (default: the bundle's; larger finds smaller, farther people, at a cost that grows "
        "with the input's area)")


Point = tuple[float, float]


class CameraConfig(GunwatchModel):
    """Per-camera settings; under `cameras.NAME` each key overrides `defaults`."""

    labels: list[str] = Field(["gun"], description="model classes that count as a weapon")
    confidence: float = Field(0.0, ge=0, le=1, description="extra per-camera minimum confidence "
                              "on top of the detector's (0 = the detector's threshold)")
    min_area: float = Field(0.0, ge=0, le=1, description="smallest box, as a fraction of the frame")
    max_area: float = Field(1.0, gt=0, le=1, description="largest box, as a fraction of the frame")
    zones: list[list[Point]] = Field([], description="polygons in the camera's pixels; empty = "
                                     "whole frame; a detection counts when its box centre is inside")
    masks: list[list[Point]] = Field([], description="polygons where detections never count")
    confirm: ConfirmSettings = Field(ConfirmSettings(), description="when detections become an incident")
    regions: RegionSettings = Field(RegionSettings(), description="where in the frame the gun "
                                    "model looks (whole frame, persons, motion, tiles)")

    def frame_filter(self) -> FrameFilter:
        return FrameFilter(labels=frozenset(self.labels), confidence=self.confidence,
                           min_area=self.min_area, max_area=self.max_area,
                           zones=tuple(self.zones), masks=tuple(self.masks))


# Every registered source plugin's section (built-in, integrations, installed plugins).
SourceConfig = registry.config_union("source")


class GunwatchConfig(GunwatchModel):
    state_dir: Path = Field(Path("/var/lib/gunwatch"),
                            description="where gunwatch keeps its state (alert outbox, caches)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log verbosity")
    detector: DetectorConfig = Field(DetectorConfig(), description="the model and the engine that runs it")
    alerts: AlertsConfig = Field(AlertsConfig(), description="alert channels, delivery and "
                                 "policies (docs/alerts.md)")
    sources: list[SourceConfig] = Field([], description="where frames come from")
    metrics: MetricsConfig = Field(MetricsConfig(), description="the web app: review pages at /, "
                                   "Prometheus /metrics and /healthz")
    defaults: CameraConfig = Field(CameraConfig(), description="settings of every camera, unless "
                                   "`cameras.NAME` overrides them")
    # Validated as CameraConfig so that a typo under a camera is an error naming its key path
    # at load time; only the keys a camera sets override `defaults` (see camera()).
    cameras: dict[str, CameraConfig] = Field({}, description="per-camera overrides of `defaults`")

    def camera(self, name: str) -> CameraConfig:
        override = self.cameras[name].model_dump(exclude_unset=True) if name in self.cameras else {}
        return CameraConfig.model_validate(_merged(self.defaults.model_dump(exclude_unset=True), override))

    def region_settings(self) -> list[RegionSettings]:
        """The region settings of the defaults and of every named camera."""
        return [self.defaults.regions] + [self.camera(name).regions for name in self.cameras]

    def uses_person_regions(self) -> bool:
        """Whether any camera may need the person model (then it is loaded at start-up)."""
        return any(r.uses_person() for r in self.region_settings())


def _merged(base: dict, override: dict) -> dict:
    """`override` on top of `base`, section by section: a camera that sets `regions.max_regions`
    keeps the `regions.modes` of `defaults`."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


# Keys whose values are credentials: an error about them shows the key, never the value.
_SECRET_KEY = re.compile(r"secret|token|passw|pass$|pwd|credential|auth|api_?key|private", re.IGNORECASE)


class Environment:
    """Where ${VAR} values come from: the process's variables, then an environment file's
    KEY=VALUE lines (as systemd's EnvironmentFile gives them to the service)."""

    def __init__(self, file_values: dict[str, str] | None = None, unread: str = ""):
        self.values = {**(file_values or {}), **os.environ}
        self.unread = unread   # why an environment file that exists could not be read

    @classmethod
    def beside(cls, config_file: Path | None, env_file: Path | None = None) -> Environment:
        """The environment for `config_file`: `env_file` when given (it must exist), else the
        file named `environment` in the config's folder when there is one."""
        if env_file is None:
            if config_file is None or not (config_file.parent / ENV_FILE_NAME).exists():
                return cls()
            env_file = config_file.parent / ENV_FILE_NAME
        elif not env_file.exists():
            raise ConfigError(f"{env_file}: no such environment file (--env-file); give the file "
                              "of KEY=VALUE lines, or leave the option out")
        try:
            return cls(read_env_file(env_file))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            return cls(unread=f"{env_file} exists but cannot be read ({reason})")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them: blank lines and # comments
    skipped, one pair of surrounding quotes taken off the value."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key:
            values[key] = value
    return values


def _substitute(value: Any, path: str, missing: list[str], secrets: set[str], env: Environment) -> Any:
    """parse_config's walk over the YAML tree: unset variables are collected in `missing` (so that every one is
    reported, not the first), substituted values in `secrets` (so that no error shows them)."""
    if isinstance(value, dict):
        return {k: _substitute(v, f"{path}.{k}" if path else str(k), missing, secrets, env)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{path}.{i}", missing, secrets, env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    if _SECRET_KEY.search(path.rsplit(".", 1)[-1]):
        secrets.add(value)  # a credential written into the file itself

    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in env.values:
            secrets.add(env.values[name])
            return env.values[name]
        if default is not None:
            return default
        missing.append(f"{path}: environment variable {name} is not set; " + (
            f"{env.unread}: run as root or as the service user, or export the variable"
            if env.unread else "export it, put it in the environment file beside the config (the "
            "service's /etc/gunwatch/environment), or write the value in the config"))
        return ""

    return _ENV_REFERENCE.sub(replace, value)


def _shown(value: Any, key: str, secrets: set[str]) -> str:
    """What an error may show of the value it is about: scalars that are neither under a secret
    key nor carry a ${VAR} value; of a mapping or list only its shape (it may hold a secret)."""
    if isinstance(value, dict):
        keys = ", ".join(str(k) for k in list(value)[:8]) + (", ..." if len(value) > 8 else "")
        return f" (got a mapping with keys: {keys})" if value else " (got an empty mapping)"
    if isinstance(value, (list, tuple)):
        return f" (got a list of {len(value)} items)"
    if _SECRET_KEY.search(key) or any(secret and secret in str(value) for secret in secrets):
        return f" (got a {type(value).__name__}, not shown)"
    text = repr(value)
    return f" (got {text[:80]}{'...' if len(text) > 80 else ''})"


def _scrub(text: str, secrets: set[str]) -> str:
    # Last line of defence for messages pydantic writes itself (a union tag, a custom
    # validator's text): no substituted value of four characters or more goes out.
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def format_errors(source: str, err: ValidationError, secrets: set[str] | None = None,
                  skip: set[str] | None = None) -> str:
    """One line per problem, each naming its key path; `secrets` (values that came from
    ${VAR}) are never shown, nor anything under a key that holds a credential. Errors at key
    paths in `skip` (already reported, e.g. an unset variable) are left out."""
    secrets, skip = secrets or set(), skip or set()
    lines = []
    for e in err.errors(include_url=False):
        key = ".".join(str(part) for part in e["loc"]) or "(top level)"
        if key in skip:
            continue
        # An unknown key's value is no help in finding the typo, and may be a credential.
        shown = "" if e["type"] in ("missing", "extra_forbidden") else _shown(e.get("input"), key, secrets)
        hint = ""
        if e["type"] == "extra_forbidden":
            hint = f"; remove it or check its spelling (see {example_config()})"
        elif e["type"] == "literal_error":
            hint = f"; {e['msg'][0].lower()}{e['msg'][1:]}"
        lines.append(_scrub(f"{source}: {key}: {e['msg']}{shown}{hint}", secrets))
    return "\n".join(lines)


def _with_folder_journals(raw: dict) -> dict:
    """A folder source keeps its journal under state_dir unless it names its own file."""
    sources = raw.get("sources")
    state_dir = raw.get("state_dir", GunwatchConfig.model_fields["state_dir"].default)
    if not isinstance(sources, list) or not isinstance(state_dir, (str, Path)):
        return raw
    journal = str(Path(state_dir) / "folder-journal.sqlite")
    return {**raw, "sources": [{**s, "journal": journal}
                               if isinstance(s, dict) and s.get("type") == "folder" and "journal" not in s
                               else s for s in sources]}


def parse_config(text: str, source: str = "<config>", env: Environment | None = None) -> GunwatchConfig:
    """Validate a config file's text; ConfigError lists every problem at once, each naming its
    key path and never a secret's value."""
    try:
        raw = safe_yaml.load(text)
    except safe_yaml.YamlRefused as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(raw).__name__}")
    # A section whose entries are all commented out reads as null: it means "the defaults".
    raw = {key: value for key, value in raw.items() if value is not None}
    missing: list[str] = []
    secrets: set[str] = set()
    substituted = _with_folder_journals(_substitute(raw, "", missing, secrets, env or Environment()))
    problems = [f"{source}: {line}" for line in missing]
    try:
        config = GunwatchConfig.model_validate(substituted)
    except ValidationError as exc:
        unset = {line.split(": ", 1)[0] for line in missing}
        problems.append(format_errors(source, exc, secrets, skip=unset))
    if problems:
        raise ConfigError("\n".join(p for p in problems if p))
    return config


def config_file(path: str | os.PathLike | None) -> Path | None:
    """The file a command reads: `path`, else the standard location when it exists."""
    return Path(path) if path else next((p for p in DEFAULT_PATHS if p.exists()), None)


def load_config(path: str | os.PathLike | None = None, env_file: str | os.PathLike | None = None
                ) -> GunwatchConfig:
    """Load the config file; without a path, the standard location, or defaults if none exists.
    ${VAR}s resolve from the process's environment, then `env_file` or the `environment` file
    beside the config (see Environment)."""
    file = config_file(path)
    env = Environment.beside(file, Path(env_file) if env_file else None)
    if file is None:
        return GunwatchConfig()
    try:
        if file.exists() and not file.is_file():  # a FIFO or a device would be read forever
            raise ConfigError(f"{file}: not a regular file; give the path of the YAML config file")
        with open(file, "rb") as fh:
            data = fh.read(safe_yaml.MAX_BYTES + 1)
        text = safe_yaml.decode(data)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file ({exc.strerror})") from exc
    except safe_yaml.YamlRefused as exc:
        raise ConfigError(f"{file}: {exc}") from None
    return parse_config(text, str(file), env)
