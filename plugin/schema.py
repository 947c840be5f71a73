"""The base class of every configuration section (kept apart from config.py so that plugin
modules can define their own sections without importing the whole configuration)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class GunwatchModel(BaseModel):
    """Unknown keys are errors (a typo must not silently become a default); values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
