"""`gunwatch <command>`: the command-line entry point. One module per command."""

from __future__ import annotations

import argparse
import sys

from .. import __version__, logs
from ..errors import GunwatchError
from . import alerts, bench, config_cmd, demo, detect, doctor, eval, review, run, train, zm_hook

COMMANDS = (run, config_cmd, doctor, demo, detect, bench, eval, alerts, zm_hook, train, review)

EPILOG = """\
exit status:
  0  success
  1  the command ran, but some inputs failed (they are named on stderr)
  2  configuration or usage error: the message names the setting to fix
  3  no detector backend can run (library or model missing or incompatible)
  4  an input, recorder or output could not be read or written
  5  an alert could not be delivered

environment:
  GUNWATCH_MODEL        model used when --model is not given (default: gun-tiny-ensemble)
  GUNWATCH_MODELS_DIR   extra folder searched for model bundles by name
  GUNWATCH_DARKNET_LIB  libdarknet.so to try first
  GUNWATCH_CACHE_DIR    where the `auto` backend remembers its measurement

See `gunwatch COMMAND --help` for each command."""


def versions() -> str:
    import cv2

    return f"gunwatch {__version__} (OpenCV {cv2.__version__}, Python {sys.version.split()[0]})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gunwatch",
        description="Gun detection for existing video recorders: runs YOLO models through "
                    "libdarknet or OpenCV on images, videos and streams.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=versions())
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log verbosity on stderr (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level)
    try:
        return args.run(args)
    except GunwatchError as exc:
        print(f"gunwatch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
