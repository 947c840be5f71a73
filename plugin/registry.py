"""The one place where plugins (detector backends now; sources, sinks and alert channels later)
are registered by kind and name, and looked up from configuration."""

from __future__ import annotations

import importlib
from typing import Callable, TypeVar

from .errors import ConfigError

T = TypeVar("T")

_REGISTRY: dict[tuple[str, str], type] = {}

# Built-in plugin modules, imported on first lookup so that `import gunwatch` stays cheap and a
# backend whose optional dependency is missing only fails when someone asks for it by name.
BUILTIN_MODULES: dict[str, tuple[str, ...]] = {
    "detector": ("gunwatch.detectors.opencv", "gunwatch.detectors.darknet", "gunwatch.detectors.pytorch"),
    "source": ("gunwatch.sources.folder", "gunwatch.sources.stream", "gunwatch.sources.frigate",
               "gunwatch.zoneminder.source"),
    "region": ("gunwatch.regions.grid", "gunwatch.regions.person", "gunwatch.regions.motion"),
    "alert_channel": ("gunwatch.alerts.twilio_sms", "gunwatch.alerts.twilio_voice",
                      "gunwatch.alerts.webhook", "gunwatch.alerts.mqtt", "gunwatch.alerts.email"),
}

_import_errors: dict[str, str] = {}
_loaded_kinds: set[str] = set()


def register(kind: str, name: str) -> Callable[[type[T]], type[T]]:
    def decorate(cls: type[T]) -> type[T]:
        _REGISTRY[(kind, name)] = cls
        return cls

    return decorate


def _load_builtins(kind: str) -> None:
    if kind in _loaded_kinds:
        return
    _loaded_kinds.add(kind)
    for module in BUILTIN_MODULES.get(kind, ()):
        try:
            importlib.import_module(module)
        except ImportError as exc:  # recorded, reported when the name is asked for
            _import_errors[module] = str(exc)


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
