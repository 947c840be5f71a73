"""`gunwatch alerts` (what happened to recent alerts) and `gunwatch alert test|deliver`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time

from ..alerts.channel import Delivery, PermanentError, TransientError, create_channels, mask
from ..alerts.outbox import Outbox, Store, outbox_path
from ..alerts.policy import local_time
from ..alerts.worker import DeliveryWorker
from ..domain import BBox, Incident
from ..errors import AlertDeliveryError, ConfigError
from ..paths import example_config
from .options import add_config_options, config_from, refuse_root_in_service_state

STATES = ("held", "queued", "sending", "sent", "delivered", "failed", "skipped")

LIST_DESCRIPTION = """\
List recent alerts from the outbox, newest first: one line per incident, channel and
recipient, with its state and why it is in that state.

states:
  queued     waiting to be sent (WHY shows the last error while retrying, or until when it
             is deferred by the recipient's quiet hours)
  held       a later number of a voice escalation chain, called only if the ones before it
             do not answer
  sending    being handed to the provider right now
  sent       accepted by the provider (Twilio, SMTP server, MQTT broker); for Twilio the
             delivery receipt or call outcome is still being asked for
  delivered  the provider confirmed it (SMS delivered, call answered, webhook 2xx)
  failed     not delivered, and not retried: permanent error, given up, or call not answered
  skipped    deliberately not sent: camera cooldown, rate limit, quiet hours, or an earlier
             number of the escalation chain answered

Recipients are shown masked (+1******4567); the outbox file itself holds them in full."""

LIST_EXAMPLES = """\
examples:
  gunwatch alerts --config /etc/gunwatch/gunwatch.yml
  gunwatch alerts --state failed --limit 10
  gunwatch alerts --json | jq .reason

exit status: 0 listed (also when there are no alerts yet), 2 config error, 5 outbox unreadable."""

ALERT_DESCRIPTION = """\
Work with alert channels directly.

  test     send a test message through every configured channel (or those named with
           --channel) to every recipient, ignoring schedules, cooldowns and the outbox,
           and print what each provider answered
  deliver  run the delivery worker alone: send what the outbox holds (alerts queued by
           `gunwatch run`, or left behind by a crash) until stopped, or with --until-empty
           until nothing is left to send or to check"""

ALERT_EXAMPLES = """\
examples:
  gunwatch alert test --config /etc/gunwatch/gunwatch.yml
  gunwatch alert test --channel oncall_sms --camera "Front door"
  gunwatch alert deliver --until-empty

exit status: 0 every message was accepted, 2 config error (the message names the key),
5 at least one message failed (the line says why)."""


def add_parser(sub) -> None:
    listing = sub.add_parser("alerts", help="list recent alerts with their state and why",
                             description=LIST_DESCRIPTION, epilog=LIST_EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(listing)
    listing.add_argument("--limit", type=int, default=50, metavar="N",
                         help="show the newest N alerts (default 50)")
    listing.add_argument("--state", choices=STATES, help="only alerts in this state")
    listing.add_argument("--json", action="store_true", help="one JSON object per alert")
    listing.set_defaults(run=run_list)

    alert = sub.add_parser("alert", help="send a test alert, or deliver queued alerts",
                           description=ALERT_DESCRIPTION, epilog=ALERT_EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = alert.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    test = actions.add_parser("test", help="send a test message through every channel",
                              description=ALERT_DESCRIPTION, epilog=ALERT_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(test)
    test.add_argument("--channel", action="append", metavar="NAME",
                      help="only this channel (repeat for several; default all)")
    test.add_argument("--camera", default="test camera", help="camera name in the message")
    test.add_argument("--snapshot", metavar="JPEG",
                      help="picture to attach (e-mail) or link (MMS, needs snapshot_base_url)")
    test.set_defaults(run=run_test)
    deliver = actions.add_parser("deliver", help="send what the outbox holds",
                                 description=ALERT_DESCRIPTION, epilog=ALERT_EXAMPLES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_options(deliver)
    deliver.add_argument("--until-empty", action="store_true",
                         help="exit once nothing is left to send or to check")
    deliver.set_defaults(run=run_deliver)


def run_list(args: argparse.Namespace) -> int:
    config = config_from(args)
    path = outbox_path(config)
    if not path.exists():
        print(f"no alerts yet ({path} does not exist)", file=sys.stderr)
        return 0
    store = Store(path, readonly=True)
    try:
        records = store.recent(args.limit, args.state)
    finally:
        store.close()
    tz = config.alerts.zone()
    if args.json:
        for r in records:
            print(json.dumps({"id": r.id, "incident": r.incident_id, "camera": r.camera,
                              "channel": r.channel, "recipient": mask(r.recipient),
                              "state": r.state, "attempts": r.attempts,
                              "provider_id": r.provider_id, "reason": r.reason,
                              "created_at": r.created_at, "updated_at": r.updated_at,
                              "sent_at": r.sent_at}))
        return 0
    if not records:
        print("no alerts" + (f" in state {args.state}" if args.state else ""))
        return 0
    print(f"{'ID':>5}  {'QUEUED':19}  {'CAMERA':14}  {'CHANNEL':12}  {'RECIPIENT':22}  "
          f"{'STATE':9}  {'TRIES':>5}  {'PROVIDER ID':34}  WHY")
    for r in records:
        print(f"{r.id:>5}  {local_time(r.created_at, tz):%Y-%m-%d %H:%M:%S}  {r.camera[:14]:14}  "
              f"{r.channel[:12]:12}  {mask(r.recipient)[:22]:22}  {r.state:9}  {r.attempts:>5}  "
              f"{(r.provider_id or '-')[:34]:34}  {r.reason or '-'}")
    return 0


def run_test(args: argparse.Namespace) -> int:
    config = config_from(args)
    alerts = config.alerts
    if not alerts.channels:
        raise ConfigError(f"alerts.channels: no alert channel is configured; add one (see "
                          f"{example_config()})")
    unknown = set(args.channel or ()) - set(alerts.channels)
    if unknown:
        raise ConfigError(f"--channel {', '.join(sorted(unknown))}: not in alerts.channels; "
                          f"choose from {', '.join(sorted(alerts.channels))}")
    now = time.time()
    incident = Incident(id=f"test-{int(now)}", camera=args.camera, started_at=now, label="gun",
                        confidence=1.0, box=BBox(0, 0, 0, 0), snapshot=args.snapshot)
    channels = create_channels(alerts, set(args.channel) if args.channel else None)
    failures = attempts = 0
    for name, channel in channels.items():
        try:
            for recipient, _rules in alerts.channels[name].destinations(incident.camera):
                attempts += 1
                delivery = Delivery(row_id=0, incident=incident, channel=name,
                                    recipient=recipient, test=True)
                started = time.monotonic()
                try:
                    result = channel.send(delivery)
                except (TransientError, PermanentError) as exc:
                    failures += 1
                    kind = "retryable" if isinstance(exc, TransientError) else "permanent"
                    print(f"{name:12}  {mask(recipient):28}  FAILED ({kind}): {exc}")
                    continue
                ms = (time.monotonic() - started) * 1000
                print(f"{name:12}  {mask(recipient):28}  {result.state}  "
                      f"id {result.provider_id or '-'}  {result.detail or ''} ({ms:.0f} ms)")
        finally:
            channel.close()
    print(f"{attempts - failures} of {attempts} test messages accepted", file=sys.stderr)
    return AlertDeliveryError.exit_code if failures else 0


def run_deliver(args: argparse.Namespace) -> int:
    config = config_from(args)
    refuse_root_in_service_state(config.state_dir, "alert deliver")
    outbox = Outbox(config.alerts, outbox_path(config))
    worker = DeliveryWorker(outbox, create_channels(config.alerts))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    try:
        while not stop.wait(config.alerts.poll_s):
            if args.until_empty and outbox.open_count() == 0:
                break
    finally:
        worker.stop()
        outbox.close()
    return AlertDeliveryError.exit_code if worker.failed else 0
