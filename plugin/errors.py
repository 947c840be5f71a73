"""One exception tree for gunwatch, each branch mapped to a process exit code."""

from __future__ import annotations


class GunwatchError(Exception):
    """Base of every error gunwatch raises on purpose; the message is meant for the admin."""

    exit_code = 1


class ConfigError(GunwatchError):
    """The configuration, a command-line argument or a model bundle is wrong."""

    exit_code = 2


class BackendUnavailable(GunwatchError):
    """A detector backend cannot run here (library missing, incompatible, model unreadable)."""

    exit_code = 3


class SourceError(GunwatchError):
    """An input (image, video, stream, recorder) cannot be read."""

    exit_code = 4


class SinkError(GunwatchError):
    """A result could not be written back to the recorder."""

    exit_code = 4


class AlertDeliveryError(GunwatchError):
    """An alert could not be handed to its channel."""

    exit_code = 5
