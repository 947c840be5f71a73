"""What gunwatch writes where ZoneMinder users look: event Notes, objects.json, and the line a
zmeventnotification hook prints.

The formats follow zmeventnotification 7.x and pyzm 2.x (github.com/pliablepixels):
- hook output, `hook/zmes_hook_helpers/utils.py:format_detection_output` and its contract test
  `hook/tests/test_output_format.py`: `<prefix>detected:<label>:<pct>% ...--SPLIT--<json>`, prefix
  `[a] ` for the alarm frame, `[s] ` for the snapshot, `[x] ` for any other frame; each label
  once, with the confidence of its first (here: best) detection; JSON keys labels, boxes,
  frame_id, confidences, image_dimensions. `zm_event_start.sh` exits 0 when the output holds
  `detected:` and 1 otherwise; zmeventnotification.pl (`ZmEventNotification/Util.pm:
  parseDetectResults`) splits the line at `--SPLIT--`.
- objects.json, `pyzm/client.py:_save_objdetect`: those five keys of the detection, written
  beside objdetect.jpg in the event folder; boxes are `[x1, y1, x2, y2]` pixels and
  image_dimensions is `{"original": [h, w], "resized": [h, w] or null}`
  (`pyzm/ml/pipeline.py`). ZoneMinder's web console shows objdetect.jpg through
  `index.php?view=image&eid=E&fid=objdetect`.
- Notes: zm_detect.py puts its text in front of what ZoneMinder wrote (`Forced Web: `,
  `Motion: All`); gunwatch does the same with its own tag, replacing its earlier text rather
  than stacking it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ...domain import Detection

TAG = "[gunwatch]"
ORIGIN_PREFIX = "zoneminder:"
_OURS = re.compile(r"^[^|\[\]]*" + re.escape(TAG) + r"\s*(?:\|\s*)?")


def origin_of(event_id: int, frame: str) -> str:
    """A frame's `origin` in logs and incidents.jsonl: `zoneminder:<event id>:<frame>`, frame being
    a frame number, `alarm` or `snapshot`."""
    return f"{ORIGIN_PREFIX}{event_id}:{frame}"


def parse_origin(origin: str) -> tuple[int, str] | None:
    """(event id, frame) of a ZoneMinder frame's origin, None for any other source's."""
    if not origin.startswith(ORIGIN_PREFIX):
        return None
    event_id, _, frame = origin[len(ORIGIN_PREFIX):].partition(":")
    return (int(event_id), frame) if event_id.isdigit() and frame else None


def best_per_label(detections: list[Detection]) -> list[Detection]:
    """One detection per label, the most confident, most confident label first."""
    best: dict[str, Detection] = {}
    for det in detections:
        if det.label not in best or det.confidence > best[det.label].confidence:
            best[det.label] = det
    return sorted(best.values(), key=lambda d: d.confidence, reverse=True)


def notes_text(detections: list[Detection]) -> str:
    """`gun 93% [gunwatch]`."""
    return " ".join(d.summary for d in best_per_label(detections)) + " " + TAG


def merge_notes(existing: str | None, detections: list[Detection]) -> str:
    """Our text in front of what ZoneMinder (or a person) wrote, replacing our earlier text."""
    rest = _OURS.sub("", existing or "", count=1)
    ours = notes_text(detections)
    return f"{ours} | {rest}" if rest.strip() else ours


def has_our_notes(notes: str | None) -> bool:
    return bool(notes) and _OURS.match(notes or "") is not None


def objects_json(frame_id: str, detections: list[Detection], width: int, height: int) -> dict[str, Any]:
    """objects.json / the hook's JSON part: boxes in the original frame's pixels."""
    ordered = sorted(detections, key=lambda d: d.confidence, reverse=True)
    return {
        "labels": [d.label for d in ordered],
        "boxes": [[round(d.box.x), round(d.box.y), round(d.box.x + d.box.w), round(d.box.y + d.box.h)]
                  for d in ordered],
        "frame_id": frame_id,
        "confidences": [round(d.confidence, 4) for d in ordered],
        "image_dimensions": {"original": [height, width], "resized": None},
    }


def hook_line(frame_id: str, detections: list[Detection], width: int, height: int) -> str:
    """The one line zmeventnotification reads from a hook; empty when nothing was found."""
    if not detections:
        return ""
    prefix = {"alarm": "[a] ", "snapshot": "[s] "}.get(frame_id, "[x] ")
    # zm_detect.py's show_percent format: every label followed by ":NN% " (the space included).
    labels = "".join(f"{d.label}:{d.confidence:.0%} " for d in best_per_label(detections))
    return f"{prefix}detected:{labels}--SPLIT--{json.dumps(objects_json(frame_id, detections, width, height))}"
