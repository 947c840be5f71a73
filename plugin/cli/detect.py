"""`gunwatch detect`: run the detector over images, folders, videos and streams."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import cv2

from pydantic import ValidationError

from .. import annotate, inputs
from ..config import DetectorConfig
from ..detectors.base import Detector, DetectorSettings
from ..detectors.select import AUTO, backend_names, create_detector
from ..model import load_model
from ..regions.config import AUTO as AUTO_REGIONS
from ..regions.config import MODES as REGION_MODES
from ..regions.config import RegionSettings
from ..regions.stage import RegionDetector
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
  gunwatch detect cam1-1080p.jpg --regions whole,person --out /tmp/out --draw-regions
      look at the whole frame and at a crop around each person (small, far guns), and
      draw the regions (blue) beside the detections

regions (--regions, as `regions.modes` in the config): whole = the frame shrunk to the model
input; person = a square crop around each person the person model finds; tiles = a 3x2
overlapping grid; motion = crops around what moved since the previous frame of a video or
stream (nothing on single images); auto (default) = whole, plus person for frames larger
than twice the model input. Boxes from all regions are merged by NMS.

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
    parser.add_argument("--regions", type=region_modes, default=[AUTO_REGIONS], metavar="MODES",
                        help=f"comma-separated region modes: {AUTO_REGIONS} (default), "
                             f"{', '.join(REGION_MODES)}; see below")
    parser.add_argument("--person-model", metavar="M", default=DetectorConfig().person_model,
                        help="COCO model of person regions (default: %(default)s)")
    parser.add_argument("--person-input", type=options.positive_int, metavar="PX",
                        help="person model input side, a multiple of 32 (default: the model's)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write annotated images (and .mp4 for videos) under DIR")
    parser.add_argument("--draw-regions", action="store_true",
                        help="with --out: draw the regions the gun model looked at, in blue")
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


def region_modes(text: str) -> list[str]:
    try:
        return RegionSettings(modes=[m.strip() for m in text.split(",")]).modes
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


def region_stage(args: argparse.Namespace, model, detector) -> tuple[RegionDetector, Detector | None]:
    """The gun detector behind the region stage, and the person detector it uses, if any.
    Offline, every analysed frame gets its own person pass (person_every_s 0)."""
    settings = RegionSettings(modes=args.regions, person_every_s=0)
    person = None
    if settings.uses_person():
        bundle = load_model(args.person_model)
        if args.person_input:
            bundle = bundle.at_input_size(args.person_input)
        # auto: the person model may be one a family of libdarknet cannot build (yolov4-tiny on
        # Debian's), whatever backend runs the gun model.
        person = create_detector(AUTO, bundle, library=args.darknet_lib)
    _, nms = DetectorSettings(args.conf, args.nms).resolve(model)
    side = max(model.meta.input.width, model.meta.input.height)
    return RegionDetector(detector, nms, side, lambda camera: settings, person), person


def run(args: argparse.Namespace) -> int:
    model = options.load(args)
    detector = options.detector(args, model, args.backend)
    regions, person = region_stage(args, model, detector)
    items = inputs.expand(args.paths)[: args.limit]
    output = AnnotatedOutput(args.out) if args.out else None
    progress = Progress(len(items), "detect", enabled=None if not args.json else False)
    failed: list[inputs.InputFailure] = []
    frames_done = frames_with_hits = 0
    # Annotated output is drawn, and crops are cut, at full resolution; whole-frame detection
    # alone can use a reduced decode.
    reduce_for = None if output or args.regions != ["whole"] else model.meta.input
    try:
        for ref, relative in items:
            is_video = inputs.is_stream(ref) or Path(ref).suffix.lower() in inputs.VIDEO_SUFFIXES
            for item in inputs.frames(ref, relative, args.stride, args.max_frames, reduce_for):
                if isinstance(item, inputs.InputFailure):
                    failed.append(item)
                    log.warning("input failed: source=%s reason=%s", item.source, item.reason)
                    continue
                started = time.perf_counter()
                result = regions.detect_regions(item.source, item.image, float(item.index))
                detections = [d.scaled(*item.scale) for d in result.detections]
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
                    drawn = annotate.draw_regions(item.image, result.regions) if args.draw_regions else item.image
                    output.write(item, annotate.draw(drawn, detections), is_video)
            progress.advance(note=Path(ref).name[:30])
    finally:
        progress.close()
        if output:
            output.close()
        detector.close()
        if person is not None:
            person.close()
    summary = (f"{frames_done} frames from {len(items) - len(failed)} of {len(items)} inputs, "
               f"{frames_with_hits} with detections ({detector.name} backend, model {model.name})")
    print(summary, file=sys.stderr)
    if failed:
        print(f"{len(failed)} inputs failed:", file=sys.stderr)
        for failure in failed:
            print(f"  {failure.source}: {failure.reason}", file=sys.stderr)
        return 1
    return 0
