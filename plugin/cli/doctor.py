"""`gunwatch doctor`: check the installation and every configured connection, with fixes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..doctor import Doctor, as_dicts, failed
from .options import add_config_options

DESCRIPTION = """\
Check everything `gunwatch run` needs, as the user that runs it, and print one line per check:
OK, WARN (works, but not as configured or not ideal) or FAIL, each FAIL with its fix.

Checks: the config file (unknown keys, wrong types, missing ${ENV} secrets: each error names
its key); the state folder is writable; libdarknet (which one, its API, CPU or CUDA and how many
GPUs); the model loads and finds the gun in a drawn test pistol with the configured backend and
thresholds; every source (ZoneMinder: API reachable and login accepted, the monitors exist, the
events folder readable and its event folders writable; Frigate: API and MQTT broker; streams:
open and give a frame; snapshot folders readable); alert channels (Twilio: account SID and auth
token accepted, numbers in E.164; MQTT: broker accepts the login; e-mail: the SMTP server takes
the connection, security and login; webhook: the receiver accepts a connection, TLS verified for
https, no request sent); the clock is sane and agrees
with the recorders' and Twilio's clocks. Nothing is recorded, sent or written back.

Secrets written as ${VAR} resolve as for the service: variables of this process first, then
the environment file beside the config (or --env-file)."""

EXAMPLES = """\
examples:
  runuser -u gunwatch -- gunwatch doctor
      as the service user, with /etc/gunwatch/gunwatch.yml (what install.sh runs)
  gunwatch doctor --config ./gunwatch.yml --json | jq '.[] | select(.state == "FAIL")'

exit status: 0 no check failed (WARNs allowed), 1 at least one FAIL."""


def add_parser(sub) -> None:
    parser = sub.add_parser("doctor", help="check config, model, library, sources, alerts; say how to fix",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(parser)
    parser.add_argument("--json", action="store_true",
                        help='print a JSON list of {"check", "state", "detail", "fix"} instead')
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    results = Doctor(args.config, Path(args.env_file) if args.env_file else None).run()
    if args.json:
        print(json.dumps(as_dicts(results), indent=1))
    else:
        for r in results:
            lines = r.detail.splitlines() or [""]
            print(f"{r.state:<5} {r.check}: {lines[0]}")
            for line in lines[1:]:
                print(f"      {line}")
            if r.fix and r.state != "OK":
                print(f"      fix: {r.fix}")
        fails = sum(r.state == "FAIL" for r in results)
        print(f"{len(results)} checks, {fails} failed" if fails else f"{len(results)} checks, none failed")
    return 1 if failed(results) else 0
