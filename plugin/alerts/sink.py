"""The alerting sink: hands confirmed incidents to the outbox and runs the delivery worker."""

from __future__ import annotations

import logging

from ..config import GunwatchConfig
from ..domain import Confirmation, Detection, Frame
from .channel import create_channels
from .outbox import Outbox, outbox_path
from .worker import DeliveryWorker

log = logging.getLogger(__name__)

# "closed" and "stationary" tell nobody anything new: the alert for the incident went out
# when it opened, and a stationary look-alike is for the admin's log, not a page.
ALERTING_KINDS = ("opened", "updated")


class AlertSink:
    """A pipeline sink: `handle` only writes to the local outbox; sending runs in the worker."""

    name = "alerts"

    def __init__(self, config: GunwatchConfig):
        self.outbox = Outbox(config.alerts, outbox_path(config))
        self.worker = DeliveryWorker(self.outbox, create_channels(config.alerts))
        self.worker.start()

    def handle(self, frame: Frame, detections: list[Detection],
               confirmations: list[Confirmation]) -> None:
        for confirmation in confirmations:
            if confirmation.kind in ALERTING_KINDS:
                self.outbox.enqueue(confirmation.incident)

    def close(self) -> None:
        self.worker.stop()
        left = self.outbox.open_count()
        if left and self.outbox.durable:
            log.info("alerting stopped; %d open alerts stay in the outbox for the next start", left)
        elif left:
            log.error("alerting stopped with %d open alerts, some only in memory: those are lost",
                      left)
        self.outbox.close()
