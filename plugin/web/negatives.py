"""False alarms as training data: the frame that fooled the model, with its false boxes and a
sidecar naming camera, time and model, in `state_dir/negatives`; `gunwatch train prepare
--negatives` reads the folder as gun-free pictures (the sidecars are not pictures)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .store import ReviewIncident, Snapshot


def write_negatives(incident: ReviewIncident, snapshots: list[Snapshot], frames_dir: Path,
                    negatives_dir: Path, note: str | None) -> list[Path]:
    """Copy each kept frame of a false alarm into the negatives folder with its sidecar; returns
    the pictures written. Writing again replaces them (a note may change)."""
    negatives_dir.mkdir(parents=True, exist_ok=True)
    boxes = [s.frame_box for s in snapshots if s.frame_box is not None]
    written = []
    for snap in snapshots:
        if not snap.frame or not (frames_dir / snap.frame).is_file():
            continue
        target = negatives_dir / snap.frame
        shutil.copyfile(frames_dir / snap.frame, target)
        sidecar = {
            "camera": incident.camera, "incident": incident.id, "update": snap.update_no,
            "time": datetime.fromtimestamp(snap.at, timezone.utc).isoformat(timespec="seconds"),
            "model": incident.model, "label": incident.label,
            # Boxes in this picture's pixels: where the model saw a gun that was not there.
            "false_boxes": [snap.frame_box] if snap.frame_box is not None else boxes,
            "confidence": round(snap.confidence, 4), "note": note,
        }
        target.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
        written.append(target)
    return written


def remove_negatives(snapshots: list[Snapshot], negatives_dir: Path) -> int:
    """Take an incident's pictures back out (it was a gun after all: a gun picture among the
    gun-free ones would teach the model to miss it)."""
    removed = 0
    for snap in snapshots:
        if not snap.frame:
            continue
        for path in (negatives_dir / snap.frame, (negatives_dir / snap.frame).with_suffix(".json")):
            if path.is_file():
                path.unlink()
                removed += path.suffix != ".json"
    return removed


def export_negatives(negatives_dir: Path, dest: Path) -> int:
    """Copy every negative picture with its sidecar into `dest`; returns the pictures copied."""
    dest.mkdir(parents=True, exist_ok=True)
    copied = 0
    for picture in sorted(negatives_dir.glob("*.jpg")) if negatives_dir.is_dir() else []:
        shutil.copy2(picture, dest / picture.name)
        sidecar = picture.with_suffix(".json")
        if sidecar.is_file():
            shutil.copy2(sidecar, dest / sidecar.name)
        copied += 1
    return copied
