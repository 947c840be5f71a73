"""`gunwatch review export DEST`: the false alarms marked on the review pages, for a training machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SinkError
from ..web.negatives import export_negatives
from ..web.sink import review_paths
from .options import add_config_options, config_from

DESCRIPTION = """\
Copy the gun-free pictures that the review pages collected (every frame of an incident marked
False alarm, with a JSON sidecar naming camera, time, model and the false boxes) from
<state_dir>/negatives into DEST, e.g. to take them to a training machine. There
`gunwatch train prepare --negatives DEST` adds them to the train split as gun-free pictures."""

EXAMPLES = """\
examples:
  gunwatch review export /tmp/false-alarms --config /etc/gunwatch/gunwatch.yml
  gunwatch train prepare pistols prepared --negatives /tmp/false-alarms

exit status: 0 copied (also none), 2 config error, 4 DEST not writable."""


def add_parser(sub) -> None:
    parser = sub.add_parser("review", help="work with what the review pages collected",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    export = actions.add_parser("export", help="copy the false alarms' pictures out",
                                description=DESCRIPTION, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("dest", metavar="DEST", help="folder to copy into (created)")
    add_config_options(export)
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    negatives = review_paths(config_from(args).state_dir)[2]
    try:
        copied = export_negatives(negatives, Path(args.dest))
    except OSError as exc:
        raise SinkError(f"{args.dest}: cannot copy the false alarms there ({exc.strerror})") from exc
    print(f"copied {copied} gun-free pictures with their sidecars from {negatives} to {args.dest}"
          + ("" if copied else " (none marked False alarm yet)"))
    return 0
