"""The one place where plugins are registered by kind and name, and looked up from configuration.

A plugin is a class registered with `@register(kind, name)`. What gunwatch asks of it, by kind:

- `source`: `Config`, the pydantic model of its `sources:` entry (with `type: Literal[name]`);
  `__init__(config, spec)`; `run(sink, stop)`. Optional: `doctor_check(doctor, label, config)`, its
  `gunwatch doctor` checks (read only).
- `write_back`: registered under a source's name, the sink that writes verdicts back into that
  recorder: `__init__(config, events, journal)`, where `events` is the record of followed events
  the source shares with it (`source.events`) and `journal` the durable write-back journal
  (sinks/write_back.py).
- `alert_channel`: `Config` (the `alerts.channels.NAME` model), `__init__(name, config, alerts)`,
  optional `doctor_check(doctor, label, config)`.
- `detector`: `__init__(model, settings)`; its name is a value of `detector.backend`.
- `region`: a region mode of `regions.modes`.

The config's unions (`sources:`, `alerts.channels`, `detector.backend`), `gunwatch doctor` and
`gunwatch config docs` are built from here, so a new plugin is one module with one `register`
call. Plugins come from the built-in modules below, every package under gunwatch/integrations/,
and the modules that installed distributions name as `gunwatch.plugins` entry points (a
third-party plugin: a package with one entry point, e.g. `dummy = my_plugin` in its
entry_points.txt).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib.metadata import entry_points
from typing import Annotated, Any, Callable, TypeVar, Union

from pydantic import Field

from .errors import ConfigError

T = TypeVar("T")
ENTRY_POINT_GROUP = "gunwatch.plugins"
INTEGRATIONS_PACKAGE = "gunwatch.integrations"

log = logging.getLogger(__name__)
_REGISTRY: dict[tuple[str, str], type] = {}

# Built-in plugin modules outside gunwatch/integrations/. Imported on the first lookup of their
# kind, so that `import gunwatch` stays cheap and a backend whose optional dependency is missing
# only fails when someone asks for it by name.
BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "detector": ("gunwatch.detectors.opencv", "gunwatch.detectors.darknet", "gunwatch.detectors.pytorch"),
    "source": ("gunwatch.sources.folder", "gunwatch.sources.stream"),
    "region": ("gunwatch.regions.grid", "gunwatch.regions.person", "gunwatch.regions.motion"),
    "alert_channel": ("gunwatch.alerts.twilio_sms", "gunwatch.alerts.twilio_voice",
                      "gunwatch.alerts.webhook", "gunwatch.alerts.mqtt", "gunwatch.alerts.email"),
}

_import_errors: dict[str, str] = {}
_loaded_kinds: set[str] = set()
_shared_loaded = False


def register(kind: str, name: str) -> Callable[[type[T]], type[T]]:
    def decorate(cls: type[T]) -> type[T]:
        _REGISTRY[(kind, name)] = cls
        return cls

    return decorate


def _import(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:  # recorded, reported when the name is asked for
        _import_errors[module] = str(exc)


def _load_shared() -> None:
    """Integrations and third-party plugins may register any kind: loaded once, on first use."""
    global _shared_loaded
    if _shared_loaded:
        return
    _shared_loaded = True
    package = importlib.import_module(INTEGRATIONS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__, INTEGRATIONS_PACKAGE + "."):
        if info.ispkg:
            _import(info.name)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            point.load()
        except Exception as exc:  # a broken third-party plugin must not stop the built-in ones
            _import_errors[point.value] = f"{type(exc).__name__}: {exc}"
            log.error("plugin %s (%s) failed to load: %s", point.name, point.value, exc)


def _load_builtins(kind: str) -> None:
    if kind in _loaded_kinds:
        return
    _loaded_kinds.add(kind)
    for module in BUILTIN_MODULES.get(kind, ()):
        _import(module)
    _load_shared()


def names(kind: str) -> list[str]:
    _load_builtins(kind)
    return sorted(n for k, n in _REGISTRY if k == kind)


def lookup(kind: str, name: str) -> type:
    _load_builtins(kind)
    if (kind, name) not in _REGISTRY:
        broken = "; ".join(f"{m}: {e}" for m, e in _import_errors.items())
        hint = f" (modules that failed to import: {broken})" if broken else ""
        raise ConfigError(f"{kind} type {name!r} is unknown; choose one of {names(kind)}{hint}")
    return _REGISTRY[(kind, name)]


def config_union(kind: str) -> Any:
    """The pydantic type of one config entry of `kind`: the registered plugins' `Config` models,
    told apart by their `type` key."""
    models = tuple(lookup(kind, name).Config for name in names(kind))
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="type")]  # type: ignore[valid-type]
