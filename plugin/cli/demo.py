"""`gunwatch demo`: the whole pipeline on a clip made from a folder of pictures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import demo
from ..app import App
from ..config import CameraConfig, DetectorConfig, GunwatchConfig
from ..metrics import MetricsConfig
from ..detectors.select import AUTO, backend_names
from ..domain import Confirmation, Detection, Frame
from ..pipeline.confirm import ConfirmSettings
from ..sinks.annotated_video import AnnotatedVideo
from ..sources.stream import StreamSourceConfig

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "pistols" / "images"

DESCRIPTION = """\
Run the whole gunwatch pipeline on a demo clip, with nothing to configure: a clip is built from
a folder of gun pictures (shown for 3 s each, between 3 s gun-free scenes), played through the
stream source in real time, and analysed as a live camera would be: detection, confirmation
over frames (N of M), incidents with annotated snapshots, and the incident log. At the end it
says how many gun scenes raised an incident, how fast, and whether a gun-free scene did."""

EXAMPLES = """\
examples:
  gunwatch demo                                  (pistols test images from ../shared)
  gunwatch demo --images ~/gun-photos --guns 4 --out /tmp/demo

writes into --out: demo-clip.mp4 (input), demo-annotated.mp4 (what gunwatch saw),
state/incidents.jsonl (the incident log), state/snapshots/*.jpg (annotated incident frames).
exit status: 0 the demo ran (its score is printed), 2 usage error, 3 no backend."""


def add_parser(sub) -> None:
    parser = sub.add_parser("demo", help="run the pipeline on a clip built from gun pictures",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES, metavar="DIR",
                        help="folder of gun pictures (default: the pistols data set in ../shared)")
    parser.add_argument("--guns", type=int, default=6, metavar="N", help="gun scenes in the clip (default 6)")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR",
                        help="where the clip, annotated clip and incident log go (default out/demo)")
    parser.add_argument("--model", metavar="M", help="model (default: the bundled gun model)")
    parser.add_argument("--backend", default=AUTO, choices=[AUTO, *backend_names()])
    parser.add_argument("--fps", type=float, default=5.0, help="frames analysed per second (default 5)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.set_defaults(run=run)


class Timeline:
    """Collects incident openings in clip time, printing every confirmation as it comes."""

    name = "demo_timeline"

    def __init__(self, quiet: bool):
        self.first_at: float | None = None
        self.openings: list[tuple[float, str]] = []
        self.quiet = quiet

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        if self.first_at is None:
            self.first_at = frame.at  # the stream source plays the clip from its start
        t = frame.at - self.first_at
        for c in confirmations:
            if c.kind == "opened":
                self.openings.append((t, c.kind))
            if not self.quiet:
                print(f"{t:6.1f} s  incident {c.kind:<10} {c.incident.label} "
                      f"{c.incident.confidence:.0%}  {c.incident.snapshot or ''}", flush=True)

    def close(self) -> None:
        pass


def run(args: argparse.Namespace) -> int:
    if not args.images.is_dir():
        print(f"gunwatch demo: error: --images {args.images}: no such folder; give a folder of "
              "gun pictures", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    clip = args.out / "demo-clip.mp4"
    segments = demo.build_clip(demo.gun_pictures(args.images, args.guns), clip)
    # Closing an incident 1.5 s after the gun is gone, with no cooldown, lets each gun scene
    # count on its own; the service defaults (5 s, 60 s) would fold the scenes into one.
    confirm = ConfirmSettings(lost_after_s=1.5, cooldown_s=0)
    config = GunwatchConfig(
        state_dir=args.out / "state",
        detector=DetectorConfig(backend=args.backend, model=args.model),
        sources=[StreamSourceConfig(type="stream", camera="demo", url=str(clip), fps=args.fps)],
        defaults=CameraConfig(confirm=confirm), metrics=MetricsConfig(enabled=False))
    timeline = Timeline(quiet=args.json)
    app = App(config, extra_sinks=[AnnotatedVideo(args.out / "demo-annotated.mp4", args.fps), timeline])
    if not args.json:
        print(f"demo: {len(segments)} scenes, {segments[-1].end:.0f} s, analysed at {args.fps:g} fps "
              f"with {app.detector.name} / {app.model.name}", flush=True)
    app.run(duration=segments[-1].end + 2.0)
    summary = {"name": "demo", **demo.score(segments, timeline.openings),
               "frames_analysed": sum(app.runner.counters.frames.values()),
               "out": str(args.out)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"gun scenes with an incident: {summary['detected']}/{summary['gun_segments']}, "
              f"false incidents: {summary['false_alarms']}, median time to incident: "
              f"{summary['median_seconds_to_alarm']} s")
        print(f"annotated clip: {args.out / 'demo-annotated.mp4'}; incident log: "
              f"{config.state_dir / 'incidents.jsonl'}")
    return 0
