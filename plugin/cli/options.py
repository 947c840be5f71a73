"""Command-line options shared by the commands that load a config file or a model."""

from __future__ import annotations

import argparse
import os
import pwd
from pathlib import Path

from ..config import DEFAULT_PATHS, ENV_FILE_NAME, GunwatchConfig, load_config
from ..detectors.base import Detector, DetectorSettings
from ..detectors.select import create_detector
from ..errors import ConfigError
from ..model import ModelBundle, default_model_ref, load_model


def unit_interval(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """--config and --env-file, the same for every command that reads the config file."""
    parser.add_argument("--config", metavar="FILE", help=f"config file (default {DEFAULT_PATHS[0]})")
    parser.add_argument("--env-file", metavar="FILE",
                        help=f"KEY=VALUE secrets that ${{VAR}}s in the config refer to; variables of "
                             f"this process win (default: the file {ENV_FILE_NAME!r} beside the config, "
                             f"if there is one, as the service gets it)")


def config_from(args: argparse.Namespace) -> GunwatchConfig:
    return load_config(args.config, args.env_file)


def refuse_root_in_service_state(state_dir: Path, command: str) -> None:
    """Stop root from writing into the service user's state folder.

    The README's commands are typed as root; a `run` or `alert deliver` by hand would then
    create the incident log, snapshots or the outbox's journal files as root, and the service
    (user gunwatch) could no longer write them: the admin trial's "cannot open the incident log
    (Permission denied)" by another road.
    """
    if os.geteuid() != 0:
        return
    try:
        owner = state_dir.stat().st_uid
    except OSError:
        return   # not there yet: whoever runs first creates it
    if owner == 0:
        return
    try:
        name = pwd.getpwuid(owner).pw_name
    except KeyError:
        name = str(owner)
    raise ConfigError(
        f"state_dir {state_dir} belongs to user {name}, and this command runs as root: the files it "
        f"writes there (incident log, snapshots, alert outbox) would be root's, and the service, "
        f"which runs as {name}, could not write them any more. Run it as that user: "
        f"runuser -u {name} -- gunwatch {command} ... (or point state_dir at a folder of your own "
        f"for a trial run)")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and backend")
    group.add_argument("--model", metavar="M",
                       help="model bundle folder, darknet .cfg (weights beside it), or bundled "
                            f"model name (default: {default_model_ref()})")
    group.add_argument("--names", metavar="FILE",
                       help="class names file, for a bare .cfg with several *.names beside it")
    group.add_argument("--darknet-lib", metavar="PATH",
                       help="libdarknet.so to use (default: search, see `gunwatch --help`)")


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("thresholds")
    group.add_argument("--conf", type=unit_interval, metavar="C",
                       help="minimum confidence (default: the model's, 0.5 for gun models)")
    group.add_argument("--nms", type=unit_interval, metavar="T",
                       help="IoU above which overlapping boxes merge (default: the model's)")


def load(args: argparse.Namespace) -> ModelBundle:
    return load_model(args.model, args.names)


def detector(args: argparse.Namespace, model: ModelBundle, backend: str) -> Detector:
    settings = DetectorSettings(confidence=getattr(args, "conf", None), nms=getattr(args, "nms", None))
    return create_detector(backend, model, settings, library=args.darknet_lib)
