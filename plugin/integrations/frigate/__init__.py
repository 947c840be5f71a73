"""Frigate: MQTT events, HTTP API, write-back sink (sub labels, created events), Home Assistant
state and doctor checks. Importing the package registers the `frigate` source."""

from . import source  # noqa: F401  (registers the plugin)
