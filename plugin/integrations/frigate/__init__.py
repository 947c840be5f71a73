"""Frigate: MQTT events, HTTP API, write-back sink (sub labels, created events), Home Assistant
state and doctor checks. Importing the package registers the `frigate` source and write-back."""

from . import source, write_back  # noqa: F401  (register the source and its write-back)
