"""Per-camera settings of the region stage (`regions:` under `defaults` or `cameras.NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator

from ..schema import GunwatchModel

AUTO = "auto"
MODES = ("whole", "person", "motion", "tiles")


class RegionSettings(GunwatchModel):
    modes: list[str] = Field(
        [AUTO], description="where the gun model looks: `whole` (the frame shrunk to the model "
        "input), `person` (a square crop around each person the person model finds), `motion` "
        "(crops around moving pixels), `tiles` (an overlapping grid); `auto` = person crops for "
        "frames larger than twice the model input, the whole frame instead when the person model "
        "finds nobody, and whole alone for smaller frames")
    max_regions: int = Field(
        7, ge=1, le=64, description="most gun-model passes per frame (whole frame included: "
        "whole plus a 3x2 grid, or whole plus 6 persons); extra regions are dropped, the whole "
        "frame and the largest persons kept first, and counted in /metrics")
    crop_grow: float = Field(
        0.25, ge=0, le=2, description="person and motion crops: margin added to the longer "
        "side of the box, so a gun held at arm's length is inside the crop")
    min_crop: int = Field(
        256, ge=32, le=4096, description="person and motion crops: smallest crop side in frame "
        "pixels (a far person's crop is enlarged to the model input, not the other way round)")
    person_every_s: float = Field(
        1.0, ge=0, le=60, description="persons found less than this many seconds ago are reused "
        "instead of running the person model again, and on a scene where nothing moved for up "
        "to 10 s (0: a person pass on every frame)")
    tiles: tuple[int, int] = Field(
        (3, 2), description="`tiles` mode: columns and rows of the grid")
    tile_overlap: float = Field(
        0.2, ge=0, lt=1, description="`tiles` mode: share of a tile that overlaps its neighbour, "
        "so a gun on a tile border is whole in one of them")
    motion_threshold: int = Field(
        25, ge=1, le=255, description="`motion` mode: grey-level change (0-255) that counts as "
        "motion against the running background")

    @field_validator("modes")
    @classmethod
    def _known_modes(cls, modes: list[str]) -> list[str]:
        if not modes:
            raise ValueError(f"name at least one mode: {AUTO}, {', '.join(MODES)}")
        unknown = [m for m in modes if m not in (AUTO, *MODES)]
        if unknown:
            raise ValueError(f"unknown region mode {unknown[0]!r}; choose from {AUTO}, {', '.join(MODES)}")
        if AUTO in modes and len(modes) > 1:
            raise ValueError(f"{AUTO} stands alone; list the modes instead (e.g. [whole, person])")
        if len(set(modes)) != len(modes):
            raise ValueError("a mode is listed twice")
        return modes

    @field_validator("tiles")
    @classmethod
    def _grid(cls, tiles: tuple[int, int]) -> tuple[int, int]:
        if not all(1 <= n <= 8 for n in tiles):
            raise ValueError("columns and rows must each be 1 to 8, e.g. [3, 2]")
        return tiles

    def uses_person(self) -> bool:
        """Whether this camera may need the person model (auto may, on large frames)."""
        return AUTO in self.modes or "person" in self.modes

    def whole_only(self) -> bool:
        return self.modes == ["whole"]


@dataclass(frozen=True)
class ModePlan:
    """The modes a frame gets, and whether the whole frame stands in when they find nothing."""

    modes: list[str]
    whole_when_empty: bool = False


def resolve_modes(settings: RegionSettings, frame_w: int, frame_h: int, model_side: int) -> ModePlan:
    """The modes a frame gets. `auto`: a frame up to about twice the model input loses little
    when shrunk whole, so it keeps `whole`. A larger one gets `person` crops, and the whole
    frame only when nobody is found: a person's crop shows that person's gun larger than the
    whole frame does, and dropping the whole pass where people are is what lets one 2-core
    machine keep up with several cameras (benchmarks/capacity.py). A gun whose holder the
    person model misses, beside a person it finds, is then seen by neither: list
    `[whole, person]` to pay for both on every frame."""
    if settings.modes != [AUTO]:
        return ModePlan(list(settings.modes))
    if max(frame_w, frame_h) > 2 * model_side:
        return ModePlan(["person"], whole_when_empty=True)
    return ModePlan(["whole"])
