"""The training tools' errors: configuration errors of gunwatch's tree, so the CLI prints their
message and exits with status 2 like any other wrong input. ValueError stays a base because
callers (and tests) have always caught them as such."""

from __future__ import annotations

from ..errors import ConfigError


class TrainingError(ConfigError, ValueError):
    """Data, a cfg, weights or a run that cannot be used as asked; the message names the file
    and the fix."""
