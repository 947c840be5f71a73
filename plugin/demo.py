"""`gunwatch demo`: the whole pipeline on a clip built from a folder of pictures.

The clip alternates gun-free stretches and gun pictures (each shown for a few seconds with a
slow zoom, like a person holding it up to a camera). It is played through the stream source in
real time, so the demo exercises what a live camera does: sampling, detection, confirmation
over frames, incidents, snapshots and the incident log. Because the clip's script is known, the
demo can say how many gun stretches raised an incident, how fast, and whether any gun-free
stretch did.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .inputs import IMAGE_SUFFIXES

SIZE = (1280, 720)
CLIP_FPS = 10
NEGATIVE_DIRS = (Path("/usr/share/darknet/data"),)


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    gun: bool
    picture: str


def gun_pictures(folder: Path, count: int) -> list[Path]:
    """Pictures from `folder`; for the pistols data set, its test split only (never trained on)."""
    splits = folder.parent / "splits.csv"
    if splits.exists():
        with open(splits, newline="") as fh:
            names = [r["file"] for r in csv.DictReader(fh) if r["split"] == "test"]
        pictures = [folder / n for n in names]
    else:
        pictures = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    rng = np.random.default_rng(7)
    return [pictures[i] for i in rng.choice(len(pictures), size=min(count, len(pictures)), replace=False)]


def gun_free_scenes(count: int) -> list[np.ndarray]:
    """Everyday photos without guns (darknet's samples: dog, horses, street...), else plain
    synthetic rooms, all at clip size."""
    photos = [p for d in NEGATIVE_DIRS if d.is_dir() for p in sorted(d.glob("*.jpg"))]
    scenes = [cv2.resize(cv2.imread(str(p)), SIZE) for p in photos]
    rng = np.random.default_rng(3)
    while len(scenes) < count:
        room = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        room[:] = rng.integers(60, 200, 3)
        cv2.rectangle(room, (200, 300), (600, 720), tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
        scenes.append(cv2.GaussianBlur(room, (0, 0), 3))
    return [scenes[i % len(scenes)] for i in range(count)]


def _zoomed(picture: np.ndarray, t: float) -> np.ndarray:
    """The picture fitted into the clip frame, zooming in slowly (t in 0..1)."""
    h, w = picture.shape[:2]
    scale = min(SIZE[0] / w, SIZE[1] / h) * (0.85 + 0.15 * t)
    resized = cv2.resize(picture, (int(w * scale), int(h * scale)))
    frame = np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)
    rh, rw = resized.shape[:2]
    y0, x0 = (SIZE[1] - rh) // 2, (SIZE[0] - rw) // 2
    frame[y0:y0 + rh, x0:x0 + rw] = resized
    return frame


def build_clip(guns: list[Path], path: Path, gun_s: float = 3.0, gap_s: float = 3.0) -> list[Segment]:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, SIZE)
    scenes = gun_free_scenes(len(guns) + 1)
    segments, t = [], 0.0
    for i in range(len(guns) + 1):
        for k in range(int(gap_s * CLIP_FPS)):
            writer.write(_zoomed(scenes[i], k / (gap_s * CLIP_FPS)))
        segments.append(Segment(t, t + gap_s, False, f"gun-free scene {i + 1}"))
        t += gap_s
        if i == len(guns):
            break
        picture = cv2.imread(str(guns[i]))
        for k in range(int(gun_s * CLIP_FPS)):
            writer.write(_zoomed(picture, k / (gun_s * CLIP_FPS)))
        segments.append(Segment(t, t + gun_s, True, guns[i].name))
        t += gun_s
    writer.release()
    return segments


def score(segments: list[Segment], events: list[tuple[float, str]]) -> dict:
    """events: (seconds into the clip, kind) of every opened/re-opened incident."""
    alarms = [at for at, kind in events]
    guns = [s for s in segments if s.gun]
    found, delays = 0, []
    for s in guns:
        hits = [a for a in alarms if s.start <= a <= s.end + 1.0]  # 1 s grace: frames in flight
        if hits:
            found += 1
            delays.append(hits[0] - s.start)
    false_alarms = sum(1 for a in alarms if not any(s.start <= a <= s.end + 1.0 for s in guns))
    return {"gun_segments": len(guns), "detected": found, "false_alarms": false_alarms,
            "seconds_to_alarm": [round(d, 2) for d in delays],
            "median_seconds_to_alarm": round(float(np.median(delays)), 2) if delays else None}
