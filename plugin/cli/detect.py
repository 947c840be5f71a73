"""`gunwatch detect`: run the detector over images, folders, videos and streams."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from .. import annotate, inputs
from ..detectors.select import AUTO, backend_names
from ..errors import SourceError
from ..progress import Progress
from . import options

log = logging.getLogger(__name__)

DESCRIPTION = """\
Detect guns (or whatever the model's classes are) in images, folders of images, video files
and live streams, offline: nothing is sent anywhere. Use it to try a model on your own
footage, to check a camera's view, or to label a folder.

PATH may be an image file, a folder (searched recursively for images and videos), a video
file, a stream URL (rtsp://, http://, ...) or a webcam number. An input that cannot be read
is reported on stderr and the run goes on with the next one."""

EXAMPLES = """\
examples:
  gunwatch detect ../shared/datasets/pistols/images --out /tmp/gunwatch-out
      annotate every image of a folder (any folder of photos works)
  gunwatch detect cam1.mp4 --stride 5 --json > cam1.jsonl
      every 5th frame of a video, one JSON object per frame:
      {"source", "frame", "detections": [{"label", "confidence", "box": [x, y, w, h]}], "ms"}
      (box in pixels of the input, top-left corner and size; ms = detection time)
  gunwatch detect rtsp://user:pass@cam/stream --max-frames 100 --backend darknet

exit status: 0 all inputs read, 1 some inputs failed, 2 usage or model error, 3 no backend."""


def add_parser(sub) -> None:
    parser = sub.add_parser("detect", help="detect objects in images, folders, videos, streams",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images, folders, videos, URLs")
    options.add_model_options(parser)
    parser.add_argument("--backend", default=AUTO, choices=[AUTO, *backend_names()],
                        help="detector engine; auto measures once and picks the fastest "
                             "(default auto)")
    options.add_threshold_options(parser)
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write annotated images (and .mp4 for videos) under DIR")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per analysed frame on stdout")
    parser.add_argument("--stride", type=options.positive_int, default=1, metavar="N",
                        help="videos and streams: analyse every Nth frame (default 1)")
    parser.add_argument("--limit", type=options.positive_int, metavar="N",
                        help="analyse only the first N inputs (files in name order)")
    parser.add_argument("--max-frames", type=options.positive_int, metavar="N",
                        help="videos and streams: stop after N analysed frames per input")
    parser.set_defaults(run=run)


class AnnotatedOutput:
    """Writes annotated frames under --out: images as JPEG, videos and streams as MP4."""

    def __init__(self, root: Path):
        self.root = root
        self.writers: dict[str, cv2.VideoWriter] = {}
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(f"--out {root}: cannot create the folder ({exc.strerror}); "
                              "choose a folder you can write to") from None

    def write(self, frame: inputs.InputFrame, image, is_video: bool) -> None:
        if not is_video:
            target = (self.root / frame.relative).with_suffix(".jpg")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(target), image):
                raise SourceError(f"cannot write {target}")
            return
        writer = self.writers.get(frame.source)
        if writer is None:
            target = (self.root / frame.relative).with_suffix(".mp4")
            target.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
            if not writer.isOpened():
                raise SourceError(f"cannot write video {target}")
            self.writers[frame.source] = writer
        writer.write(image)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.release()


def run(args: argparse.Namespace) -> int:
    model = options.load(args)
    detector = options.detector(args, model, args.backend)
    items = inputs.expand(args.paths)[: args.limit]
    output = AnnotatedOutput(args.out) if args.out else None
    progress = Progress(len(items), "detect", enabled=None if not args.json else False)
    failed: list[inputs.InputFailure] = []
    frames_done = frames_with_hits = 0
    # Annotated output is drawn at full resolution; detection alone can use a reduced decode.
    reduce_for = None if output else model.meta.input
    try:
        for ref, relative in items:
            is_video = inputs.is_stream(ref) or Path(ref).suffix.lower() in inputs.VIDEO_SUFFIXES
            for item in inputs.frames(ref, relative, args.stride, args.max_frames, reduce_for):
                if isinstance(item, inputs.InputFailure):
                    failed.append(item)
                    log.warning("input failed: source=%s reason=%s", item.source, item.reason)
                    continue
                started = time.perf_counter()
                detections = [d.scaled(*item.scale) for d in detector.detect(item.image)]
                ms = (time.perf_counter() - started) * 1000
                frames_done += 1
                frames_with_hits += bool(detections)
                if args.json:
                    print(json.dumps({"source": item.source, "frame": item.index,
                                      "detections": [d.to_dict() for d in detections],
                                      "ms": round(ms, 1)}), flush=True)
                elif not progress.enabled:
                    found = ", ".join(f"{d.summary} {d.box.as_list(0)}" for d in detections) or "-"
                    where = item.source if not is_video else f"{item.source}#{item.index}"
                    print(f"{where}: {found} ({ms:.0f} ms)")
                if output:
                    output.write(item, annotate.draw(item.image, detections), is_video)
            progress.advance(note=Path(ref).name[:30])
    finally:
        progress.close()
        if output:
            output.close()
        detector.close()
    summary = (f"{frames_done} frames from {len(items) - len(failed)} of {len(items)} inputs, "
               f"{frames_with_hits} with detections ({detector.name} backend, model {model.name})")
    print(summary, file=sys.stderr)
    if failed:
        print(f"{len(failed)} inputs failed:", file=sys.stderr)
        for failure in failed:
            print(f"  {failure.source}: {failure.reason}", file=sys.stderr)
        return 1
    return 0
