"""`gunwatch run`: the service: every configured source through detection, confirmation, sinks."""

from __future__ import annotations

import argparse

from ..app import App
from ..config import config_file, load_config
from .options import add_config_options, refuse_root_in_service_state

DESCRIPTION = """\
Run gunwatch as a service: watch every source in the config file (recorder events, snapshot
folders, streams), detect guns, confirm them over several frames, and hand incidents to the
sinks (incident log under state_dir, alerts, recorder write-back). Stops cleanly on SIGTERM or
Ctrl-C. SIGHUP (systemctl reload gunwatch) re-reads the config file: a valid file replaces the
running pipeline (the detector is kept when its section is unchanged; queued alerts stay in the
outbox and go on), an invalid one is logged with the key at fault and the old config keeps
running. Logs go to stderr, one line per event (journald keeps them under systemd)."""

EXAMPLES = """\
examples:
  gunwatch run --config /etc/gunwatch/gunwatch.yml
  gunwatch run --config demo.yml --for 60
  kill -HUP PID                      reload the config (systemd: systemctl reload gunwatch)

exit status: 0 stopped cleanly, 2 config error (the message names the key; also root in the
service user's state_dir: run it as that user), 3 no backend."""


def add_parser(sub) -> None:
    parser = sub.add_parser("run", help="run the detection service from a config file",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(parser)
    parser.add_argument("--for", dest="duration", type=float, metavar="SECONDS",
                        help="stop after this many seconds (tests, demos)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = config_file(args.config)
    config = load_config(path, args.env_file)
    refuse_root_in_service_state(config.state_dir, "run")
    App(config, config_path=path, env_file=args.env_file).run(args.duration)
    return 0
