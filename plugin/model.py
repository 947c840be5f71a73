"""Model bundles: a folder with model.cfg, model.weights, names and model.json.

An ensemble bundle is a folder with only model.json, whose `ensemble` section names two or more
member bundles; their boxes are fused (detectors/fusion.py). It has no network of its own.

model.json records what a detector needs beyond the darknet files (input size, whether the
network was trained on letterboxed or stretched images, default thresholds) and what an admin
wants to know (metrics, provenance). A bare darknet .cfg is accepted too, with its .weights of
the same stem and the one *.names file beside it, so any stock darknet model can be tried.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .darknet import cfg as darknet_cfg
from .darknet.files import read_names
from .errors import ConfigError

ENV_MODEL = "GUNWATCH_MODEL"
BUNDLED_MODEL = "gun-tiny-ensemble"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    width: int = Field(416, gt=0, multiple_of=32, description="network input width, pixels")
    height: int = Field(416, gt=0, multiple_of=32, description="network input height, pixels")
    letterbox: bool = Field(
        True, description="true: keep aspect ratio and pad (darknet's test-time default); "
        "false: stretch to the input size (for models trained on stretched images)")
    rect: bool = Field(
        True, description="with letterbox: cut whole 32-pixel bands of padding off the network "
        "input instead of computing on grey (416x288 instead of 416x416 for 16:9 frames, "
        "about 30% less work, picture at the same place relative to the YOLO grid)")


class Thresholds(_Strict):
    confidence: float = Field(0.5, ge=0.0, le=1.0, description="minimum objectness x class score")
    nms: float = Field(0.45, gt=0.0, le=1.0, description="IoU above which overlapping boxes merge")


class EnsembleSpec(_Strict):
    members: list[str] = Field(
        min_length=2, description="member bundles: names of bundles in models/, or folders relative "
        "to this bundle's folder; each a single network")
    fusion_iou: float = Field(
        0.5, gt=0.0, lt=1.0, description="IoU above which boxes of different members are taken for "
        "the same object and fused")
    member_confidence: float = Field(
        0.05, gt=0.0, lt=1.0, description="each member's own confidence floor: a gun one member scores "
        "low can still reach the fused threshold when the other scores it high")
    mirrored: bool = Field(
        False, description="each member also looks at the frame mirrored left to right, and those "
        "boxes join the fusion as one more member each (test-time augmentation): twice the "
        "detector time")
    mirror_trigger: float | None = Field(
        None, gt=0.0, lt=1.0, description="with mirrored: the mirrored looks run only on frames "
        "where the plain fusion's surest box reaches this score; other frames keep the plain "
        "answer. Most camera frames hold nothing gun-like, so they cost little more than the plain "
        "ensemble, while a frame with a candidate gets the second look that decides it")

    @model_validator(mode="after")
    def _trigger_needs_mirror(self) -> "EnsembleSpec":
        if self.mirror_trigger is not None and not self.mirrored:
            raise ValueError("mirror_trigger is set but mirrored is false: set \"mirrored\": true, "
                             "or remove mirror_trigger")
        return self


class ModelMeta(_Strict):
    name: str
    architecture: str = "unknown"
    classes: list[str] | None = None
    input: InputSpec = InputSpec()
    thresholds: Thresholds = Thresholds()
    metrics: dict = Field(default_factory=dict)
    provenance: dict = Field(default_factory=dict)
    ensemble: EnsembleSpec | None = None


class _Loaded(_Strict):
    """What every loaded model has: its class names, its model.json and where it came from."""

    names: list[str]
    meta: ModelMeta
    source: Path

    @property
    def name(self) -> str:
        return self.meta.name


class ModelBundle(_Loaded):
    """Resolved paths plus metadata of one network; built by `load_model`."""

    cfg: Path
    weights: Path

    def at_input_size(self, side: int) -> ModelBundle:
        """The same network run at a `side` x `side` input (a multiple of 32). YOLO's layers are
        size-independent; a larger input lets a COCO model see smaller people, at a cost in time
        that grows with the input's area."""
        spec = self.meta.input.model_copy(update={"width": side, "height": side})
        InputSpec.model_validate(spec.model_dump())  # the multiple-of-32 rule
        return self.model_copy(update={"meta": self.meta.model_copy(update={"input": spec})})


class EnsembleBundle(_Loaded):
    """Several single-network bundles run on the same picture, their boxes fused; built by
    `load_model` from a folder whose model.json has an `ensemble` section. Thresholds in its
    meta apply to the fused boxes (confidence) and to each member's own boxes (nms)."""

    members: tuple[ModelBundle, ...]

    @property
    def spec(self) -> EnsembleSpec:
        assert self.meta.ensemble is not None  # load_model builds it only from such a meta
        return self.meta.ensemble


AnyModel = ModelBundle | EnsembleBundle


def models_dirs() -> list[Path]:
    """Where bundled model names are looked up, first match wins."""
    dirs = []
    if os.environ.get("GUNWATCH_MODELS_DIR"):
        dirs.append(Path(os.environ["GUNWATCH_MODELS_DIR"]))
    dirs.append(Path(__file__).resolve().parent.parent / "models")  # a checkout or editable install
    dirs.append(Path("/opt/gunwatch/models"))
    return dirs


def default_model_ref() -> str:
    return os.environ.get(ENV_MODEL) or BUNDLED_MODEL


def _read_names(path: Path) -> list[str]:
    names = read_names(path)
    if not names:
        raise ConfigError(f"{path}: no class names in the file")
    return names


def _check_classes(cfg: Path, names: list[str], names_path: Path) -> None:
    classes = darknet_cfg.output_classes(darknet_cfg.read_cfg(cfg))
    if classes and classes != {len(names)}:
        raise ConfigError(f"{names_path}: lists {len(names)} classes but {cfg} detects "
                          f"{sorted(classes)}; the names file must match the cfg's classes=")


def _read_meta(folder: Path) -> ModelMeta:
    meta_path = folder / "model.json"
    try:
        raw = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
        return ModelMeta.model_validate({"name": folder.name, **raw})
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{meta_path}: not valid JSON ({exc})") from exc
    except ValidationError as exc:
        raise ConfigError("\n".join(
            f"{meta_path}: {'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors())) from exc


def _load_ensemble(folder: Path, meta: ModelMeta) -> EnsembleBundle:
    assert meta.ensemble is not None
    where = f"{folder / 'model.json'}: ensemble.members"
    members = []
    for ref in meta.ensemble.members:
        member = _load_bundle_dir(folder / ref) if (folder / ref).is_dir() else load_model(ref)
        if isinstance(member, EnsembleBundle):
            raise ConfigError(f"{where}: {ref!r} is itself an ensemble; list its members instead")
        members.append(member)
    first = members[0]
    for member in members[1:]:
        if member.names != first.names:
            raise ConfigError(f"{where}: {member.name} detects {member.names} but {first.name} "
                              f"detects {first.names}; members must share their class names")
        if member.meta.input != first.meta.input:
            raise ConfigError(f"{where}: {member.name} takes {member.meta.input} but {first.name} "
                              f"takes {first.meta.input}; members must share one input size, so "
                              "sources decode each picture once for all of them")
    return EnsembleBundle(members=tuple(members), names=first.names,
                          meta=meta.model_copy(update={"input": first.meta.input}), source=folder)


def _load_bundle_dir(folder: Path) -> AnyModel:
    meta = _read_meta(folder)
    if meta.ensemble is not None:
        return _load_ensemble(folder, meta)
    missing = [n for n in ("model.cfg", "model.weights", "names") if not (folder / n).is_file()]
    if missing:
        raise ConfigError(f"{folder}: not a model bundle, missing {', '.join(missing)} "
                          "(a bundle holds model.cfg, model.weights, names, model.json; "
                          "an ensemble bundle, model.json with an `ensemble` section)")
    names = _read_names(folder / "names")
    _check_classes(folder / "model.cfg", names, folder / "names")
    return ModelBundle(cfg=folder / "model.cfg", weights=folder / "model.weights", names=names,
                       meta=meta, source=folder)


def _load_loose_cfg(cfg: Path, names_path: Path | None) -> ModelBundle:
    weights = cfg.with_suffix(".weights")
    if not weights.is_file():
        raise ConfigError(f"{cfg}: expected its weights at {weights}")
    if names_path is None:
        candidates = sorted(cfg.parent.glob("*.names"))
        if len(candidates) != 1:
            raise ConfigError(f"{cfg}: cannot tell which class names to use "
                              f"(found {len(candidates)} *.names files beside it); pass --names")
        names_path = candidates[0]
    names = _read_names(names_path)
    _check_classes(cfg, names, names_path)
    width, height = darknet_cfg.input_size(darknet_cfg.read_cfg(cfg))
    meta = ModelMeta(name=cfg.stem, input=InputSpec(width=width, height=height, letterbox=True),
                     provenance={"cfg": str(cfg), "weights": str(weights)})
    return ModelBundle(cfg=cfg, weights=weights, names=names, meta=meta, source=cfg)


def load_model(ref: str | os.PathLike | AnyModel | None = None, names: str | os.PathLike | None = None) -> AnyModel:
    """Resolve a model reference: a bundle folder, a darknet .cfg, or a bundled model's name (a
    model already loaded comes back as it is, so callers take either)."""
    if isinstance(ref, (ModelBundle, EnsembleBundle)):
        return ref
    ref = str(ref) if ref else default_model_ref()
    path = Path(ref).expanduser()
    if path.is_dir():
        return _load_bundle_dir(path)
    if path.suffix == ".cfg" and path.is_file():
        return _load_loose_cfg(path, Path(names) if names else None)
    if os.sep not in ref:
        for folder in models_dirs():
            if (folder / ref).is_dir():
                return _load_bundle_dir(folder / ref)
    searched = ", ".join(str(d) for d in models_dirs())
    raise ConfigError(f"model {ref!r} not found: give a bundle folder, a darknet .cfg, or the "
                      f"name of a bundle in one of: {searched}")
