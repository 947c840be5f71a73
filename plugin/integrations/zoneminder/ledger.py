"""Which ZoneMinder events and frames have been analysed, kept in SQLite so that a restart of
gunwatch or of ZoneMinder neither skips an event nor analyses a frame twice."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ...statedb import open_state_db

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    monitor INTEGER NOT NULL,
    finished TEXT,                 -- why it was finished (NULL while being analysed)
    gun INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS frames (
    event INTEGER NOT NULL,
    frame TEXT NOT NULL,
    PRIMARY KEY (event, frame)
);
"""


class EventLedger:
    """Thread-safe; `path=None` keeps it in memory (hook mode: one event, one process)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db = open_state_db(path, _SCHEMA)
        self._lock = threading.Lock()

    def high_water(self) -> int | None:
        """The newest event id ever seen, None on the very first start."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='high_water'").fetchone()
        return int(row[0]) if row else None

    def raise_high_water(self, event_id: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES('high_water', ?) ON CONFLICT(key) DO UPDATE "
                "SET value=excluded.value WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                (str(event_id),))

    def begin(self, event_id: int, monitor_id: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO events(id, monitor) VALUES(?, ?)", (event_id, monitor_id))

    def is_finished(self, event_id: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT finished FROM events WHERE id=?", (event_id,)).fetchone()
        return bool(row and row[0])

    def frames(self, event_id: int) -> set[str]:
        with self._lock:
            rows = self._db.execute("SELECT frame FROM frames WHERE event=?", (event_id,)).fetchall()
        return {r[0] for r in rows}

    def record_frame(self, event_id: int, frame: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO frames(event, frame) VALUES(?, ?)", (event_id, frame))

    def finish(self, event_id: int, reason: str, gun: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE events SET finished=?, gun=? WHERE id=?", (reason, int(gun), event_id))
            # The frame list only served to resume this event.
            self._db.execute("DELETE FROM frames WHERE event=?", (event_id,))

    def unfinished(self) -> list[tuple[int, int]]:
        """(event id, monitor id) of events a previous run was still analysing."""
        with self._lock:
            return [(r[0], r[1]) for r in
                    self._db.execute("SELECT id, monitor FROM events WHERE finished IS NULL ORDER BY id")]
