"""`gunwatch zm-hook`: analyse one ZoneMinder event on request, as a zmeventnotification hook."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from ..app import App
from ..config import GunwatchConfig
from ..errors import ConfigError, SourceError
from ..integrations.zoneminder.client import ZoneMinderClient
from ..integrations.zoneminder.config import ZoneMinderSourceConfig
from ..integrations.zoneminder.formats import hook_line
from ..untrusted import log_field
from ..integrations.zoneminder.source import ZoneMinderSource
from ..sinks.write_back import WriteBackJournal
from .options import add_config_options, config_from

log = logging.getLogger(__name__)

DESCRIPTION = """\
Analyse one ZoneMinder event and answer the way zmeventnotification expects from a hook
(zm_detect.py / zm_event_start.sh): when a gun is found, print one line
  [a] detected:gun:93% --SPLIT--{"labels": [...], "boxes": [[x1, y1, x2, y2]], "frame_id": ...,
  "confidences": [...], "image_dimensions": {...}}
write objdetect.jpg and objects.json into the event folder (zmNinja and the web console show
them), and exit 0; otherwise print nothing and exit 1. An event still recording is followed
for up to hook_max_s seconds. The ZoneMinder URL, login, frame budget and per-camera settings
come from the `type: zoneminder` source of the config file; nothing is written to the
service's ledger, so `gunwatch run` may follow the same ZoneMinder.

Arguments after MONITOR_ID: CAUSE alone (ZoneMinder 1.37's EventStartCommand: %EID% %MID% %EC%),
or zmeventnotification's MONITOR_NAME CAUSE [EVENT_PATH] (EVENT_PATH when hook_pass_image_path
is on)."""

EXAMPLES = """\
examples:
  gunwatch zm-hook 1234 2 "Motion: All" --config /etc/gunwatch/gunwatch.yml
  # zmeventnotification.yml, section hook:
  #   event_start_hook: '/usr/local/bin/gunwatch zm-hook --config /etc/gunwatch/gunwatch.yml'

exit status: 0 gun found, 1 no gun, 2 config error, 3 no backend, 4 ZoneMinder or the event
unreachable."""


def add_parser(sub) -> None:
    parser = sub.add_parser("zm-hook", help="analyse one ZoneMinder event (zmeventnotification hook)",
                            description=DESCRIPTION, epilog=EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("event_id", type=int, metavar="EVENT_ID")
    parser.add_argument("monitor_id", type=int, metavar="MONITOR_ID")
    parser.add_argument("rest", nargs="*", metavar="CAUSE",
                        help="the alarm cause; or MONITOR_NAME CAUSE [EVENT_PATH] as zmeventnotification passes them")
    add_config_options(parser)
    parser.add_argument("--notes", action="store_true",
                        help="also prepend the detection to the event's Notes (like zm_detect.py -n; "
                        "leave it off under zmeventnotification, which writes Notes itself)")
    parser.set_defaults(run=run)


def _cause_and_path(rest: list[str]) -> tuple[str, Path | None]:
    if len(rest) <= 1:
        return (rest[0] if rest else ""), None
    if len(rest) <= 3:
        return rest[1], Path(rest[2]) if len(rest) == 3 and rest[2] else None
    raise ConfigError(f"zm-hook: too many arguments ({' '.join(rest)}); give EVENT_ID MONITOR_ID "
                      "[CAUSE] or EVENT_ID MONITOR_ID MONITOR_NAME CAUSE [EVENT_PATH]")


def zoneminder_section(config: GunwatchConfig, where: str) -> ZoneMinderSourceConfig:
    for source in config.sources:
        if isinstance(source, ZoneMinderSourceConfig):
            return source
    raise ConfigError(f"{where}: sources: no `type: zoneminder` source; zm-hook takes the ZoneMinder "
                      "URL and login from it (see docs/integrations/zoneminder.md)")


class _HookApp(App):
    """The service's wiring (model, detector, confirmation, sinks) around one event."""

    def __init__(self, config: GunwatchConfig, zoneminder: ZoneMinderSourceConfig,
                 event: tuple[int, int], event_path: Path | None):
        self._zoneminder, self._event, self._event_path = zoneminder, event, event_path
        super().__init__(config)

    def write_back_journal(self) -> WriteBackJournal:
        # One event, written back before the hook exits: nothing to keep for a next start (and
        # the hook may run as ZoneMinder's user, who cannot write the service's state_dir).
        return WriteBackJournal(None)

    def init_sources(self) -> list:
        return [ZoneMinderSource(self._zoneminder, self.model.meta.input, event=self._event,
                                 event_path=self._event_path)]


def checked_event_path(path: Path, event: dict, events_dir: Path) -> Path:
    """EVENT_PATH as given on the command line, where objdetect.jpg and objects.json will be
    written: accepted when it is the folder ZoneMinder's API names for the event, or lies inside
    events_dir; anything else (`/etc`, `../..`) is refused."""
    resolved = path.resolve()
    api_path = event.get("FileSystemPath")
    if api_path and resolved == Path(api_path).resolve():
        return resolved
    if resolved.is_relative_to(events_dir.resolve()):
        return resolved
    raise ConfigError(f"zm-hook: EVENT_PATH {log_field(path)} is neither event {event.get('Id')}'s "
                      f"folder nor inside events_dir {events_dir}; pass the path zmeventnotification "
                      "gives, or set events_dir in the zoneminder source")


def checked_event(client: ZoneMinderClient, event_id: int, monitor_id: int) -> dict:
    """The event as ZoneMinder's API has it; it must exist and belong to `monitor_id`."""
    data = client.event(event_id)
    if data is None:
        raise SourceError(f"zoneminder {client.portal}: event {event_id} does not exist")
    event = data.get("Event", {})
    if str(event.get("MonitorId")) != str(monitor_id):
        raise ConfigError(f"zm-hook: event {event_id} belongs to monitor {log_field(event.get('MonitorId'))}, "
                          f"not {monitor_id}; check the arguments (EVENT_ID MONITOR_ID ...)")
    return event


def run(args: argparse.Namespace) -> int:
    cause, event_path = _cause_and_path(args.rest)
    config = config_from(args)
    zoneminder = zoneminder_section(config, args.config or "config").model_copy(update={"notes": args.notes})
    event = checked_event(ZoneMinderClient(zoneminder), args.event_id, args.monitor_id)
    if event_path is not None:
        event_path = checked_event_path(event_path, event, zoneminder.events_dir)
    log.info("zm-hook: event=%s monitor=%s cause=%s", args.event_id, args.monitor_id, log_field(cause))
    # zmeventnotification takes the hook's whole stdout as its answer, and native libraries
    # (libdarknet) print to stdout: keep fd 1 on stderr until the answer is printed.
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        app = _HookApp(config, zoneminder, (args.event_id, args.monitor_id), event_path)
        source = app.sources[0]
        app.runner.start()
        try:
            source.finished.wait(zoneminder.hook_max_s + zoneminder.timeout_s + 10)
        finally:
            app.stop()
        result = app.write_backs[0].result(args.event_id)
    finally:
        sys.stdout.flush()
        os.dup2(answer_fd, 1)
        os.close(answer_fd)
    if result is None:
        log.info("zm-hook: event=%s: no gun", args.event_id)
        return 1
    print(hook_line(result.frame, list(result.detections), result.width, result.height), flush=True)
    return 0
