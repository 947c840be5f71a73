"""Build a detector by backend name, including `auto`, which measures the available backends
once on this machine and remembers the winner."""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import time

import cv2
import numpy as np

from .. import registry
from ..errors import ConfigError, GunwatchError
from ..machine import describe_cpu
from ..model import AnyModel, EnsembleBundle, ModelBundle
from ..paths import cache_dir
from .base import Detector, DetectorSettings
from .fusion import FusedDetector, MirroredDetector

log = logging.getLogger(__name__)

AUTO = "auto"
TIMED_FRAMES = 3


def backend_names() -> list[str]:
    return registry.names("detector")


def create_detector(backend: str, model: AnyModel, settings: DetectorSettings = DetectorSettings(),
                    warm_up: bool = True, **options) -> Detector:
    """Build a backend by name. `options` are backend-specific (library=, target=); each backend
    gets those its constructor takes. Warm-up runs one small frame, so the first real frame
    does not pay for buffer allocation (hundreds of ms on CPU). An ensemble gets one detector of
    that backend per member, fused."""
    if isinstance(model, EnsembleBundle):
        return _ensemble(backend, model, settings, warm_up, options)
    if backend == AUTO:
        return _auto(model, settings, options)
    cls = registry.lookup("detector", backend)
    accepted = inspect.signature(cls).parameters
    detector = cls(model, settings, **{k: v for k, v in options.items() if k in accepted and v is not None})
    if warm_up:
        detector.detect(np.zeros((model.meta.input.height, model.meta.input.width, 3), np.uint8))
    return detector


def _ensemble(backend: str, model: EnsembleBundle, settings: DetectorSettings, warm_up: bool,
              options: dict) -> FusedDetector:
    confidence, nms = settings.resolve(model)
    member_settings = DetectorSettings(confidence=min(model.spec.member_confidence, confidence), nms=nms)
    members: list[Detector] = []
    try:
        for member in model.members:
            members.append(create_detector(backend, member, member_settings, warm_up, **options))
    except GunwatchError as exc:
        for built in members:
            built.close()
        # a member folder is a bundle of its own, so the advice works as a detector.model value
        other = next(m for m in model.members if m is not member)
        raise type(exc)(f"{model.name}: member {member.name}: {exc} Or run one network alone: "
                        f"detector.model: {other.source}.") from exc
    mirrored = [MirroredDetector(member) for member in members] if model.spec.mirrored else []
    return FusedDetector(members, model.spec.fusion_iou, confidence, second_look=mirrored,
                         second_look_trigger=model.spec.mirror_trigger)


def _installed(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _machine_key(model: ModelBundle) -> str:
    """What the measured choice depends on: a new model, engine version or machine measures again
    (installing PyTorch later adds the torch backend to the race)."""
    stat = model.weights.stat()
    facts = [str(model.cfg.resolve()), str(stat.st_size), str(stat.st_mtime_ns), cv2.__version__, _installed("torch"),
             describe_cpu(),
             os.environ.get("GUNWATCH_DARKNET_LIB", ""), str(model.meta.input)]
    return hashlib.sha256("|".join(facts).encode()).hexdigest()[:16]


def _time_detector(detector: Detector, frame: np.ndarray) -> float:
    detector.detect(frame)  # at this frame size (rect input), buffers are allocated anew
    start = time.perf_counter()
    for _ in range(TIMED_FRAMES):
        detector.detect(frame)
    return (time.perf_counter() - start) / TIMED_FRAMES * 1000


def _auto(model: ModelBundle, settings: DetectorSettings, options: dict) -> Detector:
    cache_file = cache_dir() / "auto-backend.json"
    key = _machine_key(model)
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8")).get(key)
    except (OSError, ValueError):
        cached = None
    if cached in backend_names():
        try:
            detector = create_detector(cached, model, settings, **options)
            log.info("auto backend: %s (measured earlier on this machine, cache %s)", cached, cache_file)
            return detector
        except GunwatchError as exc:
            log.warning("auto backend: cached choice %s no longer loads (%s); measuring again", cached, exc)

    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    best: tuple[float, Detector] | None = None
    failures = []
    for name in backend_names():
        try:
            detector = create_detector(name, model, settings, **options)
        except GunwatchError as exc:
            failures.append(f"{name}: {exc}")
            log.info("auto backend: %s unavailable: %s", name, exc)
            continue
        ms = _time_detector(detector, frame)
        log.info("auto backend: %s takes %.1f ms/frame", name, ms)
        if best is None or ms < best[0]:
            if best is not None:
                best[1].close()
            best = (ms, detector)
        else:
            detector.close()
    if best is None:
        raise ConfigError("no detector backend can run this model:\n  " + "\n  ".join(failures))
    choice = best[1].name
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        entries = json.loads(cache_file.read_text(encoding="utf-8")) if cache_file.exists() else {}
        entries[key] = choice
        cache_file.write_text(json.dumps(entries, indent=1))
    except (OSError, ValueError) as exc:
        log.debug("auto backend: cannot cache the choice in %s: %s", cache_file, exc)
    log.info("auto backend: chose %s (%.1f ms/frame)", choice, best[0])
    return best[1]
