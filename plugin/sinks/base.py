"""The sink interface: told about every analysed frame and what confirmation made of it."""

from __future__ import annotations

from typing import Protocol

from ..domain import Confirmation, Detection, Frame


class Sink(Protocol):
    name: str

    def handle(self, frame: Frame, detections: list[Detection], confirmations: list[Confirmation]) -> None:
        """Called for every analysed frame, in order per camera; must not block for long."""

    def close(self) -> None: ...
