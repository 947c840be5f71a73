"""The review store: every incident with its snapshots and the admin's verdict, in SQLite.

The incident log (`incidents.jsonl`) stays the append-only audit trail; this database is what
the pages query (newest first, by camera and state, 10,000s of rows) and the only place where a
verdict (confirmed, false alarm) and its note are kept.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SinkError

STATES = ("open", "confirmed", "false_alarm")
STATE_NAMES = {"open": "open", "confirmed": "confirmed", "false_alarm": "false alarm"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id          TEXT PRIMARY KEY,
    camera      TEXT NOT NULL,
    label       TEXT NOT NULL,
    started_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    confidence  REAL NOT NULL,
    update_no   INTEGER NOT NULL,
    event_id    TEXT,
    url         TEXT,
    model       TEXT,
    closed_at   REAL,
    state       TEXT NOT NULL DEFAULT 'open',
    note        TEXT,
    reviewed_at REAL
);
CREATE INDEX IF NOT EXISTS incidents_time ON incidents (started_at);
CREATE INDEX IF NOT EXISTS incidents_camera ON incidents (camera, started_at);
CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state, started_at);
CREATE TABLE IF NOT EXISTS snapshots (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    update_no   INTEGER NOT NULL,
    at          REAL NOT NULL,
    confidence  REAL NOT NULL,
    box         TEXT NOT NULL,            -- JSON [x, y, w, h] in the camera's pixels
    snapshot    TEXT,                     -- annotated JPEG, file name in state_dir/snapshots
    frame       TEXT,                     -- the frame as analysed, file name in the frames folder
    frame_box   TEXT,                     -- JSON [x, y, w, h] in that frame's pixels
    PRIMARY KEY (incident_id, update_no)
);
PRAGMA user_version = 1;
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    update_no: int
    at: float
    confidence: float
    box: list[float]
    snapshot: str | None
    frame: str | None
    frame_box: list[float] | None


@dataclass(frozen=True, slots=True)
class ReviewIncident:
    id: str
    camera: str
    label: str
    started_at: float
    updated_at: float
    confidence: float
    update_no: int
    event_id: str | None
    url: str | None
    model: str | None
    closed_at: float | None
    state: str
    note: str | None
    reviewed_at: float | None
    thumb: str | None         # annotated snapshot of the latest sighting, file name

    @property
    def state_name(self) -> str:
        return STATE_NAMES.get(self.state, self.state)


_COLUMNS = ("i.id, i.camera, i.label, i.started_at, i.updated_at, i.confidence, i.update_no, i.event_id,"
            " i.url, i.model, i.closed_at, i.state, i.note, i.reviewed_at,"
            " (SELECT s.snapshot FROM snapshots s WHERE s.incident_id = i.id AND s.snapshot IS NOT NULL"
            "  ORDER BY s.update_no DESC LIMIT 1)")


class ReviewStore:
    """One SQLite file (WAL) shared by the pipeline's sink (writes sightings) and the web app
    (reads pages, writes verdicts): each opens its own store; SQLite's locking keeps them apart."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Default isolation: `with self._db` makes a sighting's two rows one transaction
            # (one commit, not one per statement).
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 5000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise SinkError(f"{path}: cannot open the review store ({exc}); check state_dir and "
                            "its permissions") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # --- written by the pipeline --------------------------------------------------------

    def sighting(self, *, incident_id: str, camera: str, label: str, started_at: float, at: float,
                 confidence: float, update_no: int, box: list[float], event_id: str | None,
                 url: str | None, model: str | None, snapshot: str | None, frame: str | None,
                 frame_box: list[float] | None) -> None:
        """An incident opened (update 0) or seen again; a replayed sighting changes nothing."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO incidents (id, camera, label, started_at, updated_at, confidence, update_no,"
                " event_id, url, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET updated_at = MAX(updated_at, excluded.updated_at),"
                " confidence = MAX(confidence, excluded.confidence),"
                " update_no = MAX(update_no, excluded.update_no),"
                " event_id = COALESCE(excluded.event_id, event_id), url = COALESCE(excluded.url, url)",
                (incident_id, camera, label, started_at, at, confidence, update_no, event_id, url, model))
            self._db.execute(
                "INSERT OR IGNORE INTO snapshots (incident_id, update_no, at, confidence, box, snapshot,"
                " frame, frame_box) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (incident_id, update_no, at, confidence, json.dumps(box), snapshot, frame,
                 json.dumps(frame_box) if frame_box is not None else None))

    def closed(self, incident_id: str, at: float) -> None:
        with self._lock, self._db:
            self._db.execute("UPDATE incidents SET closed_at = ? WHERE id = ?", (at, incident_id))

    def import_log(self, log_path: Path) -> int:
        """Take in the incidents of an incident log (a state dir from before the review pages)
        when this store is still empty; returns the incidents added. Their frames were never
        kept, so marking one of them False alarm adds no training picture."""
        if self._read("SELECT 1 FROM incidents LIMIT 1") or not log_path.is_file():
            return 0
        added: set[str] = set()
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    r = json.loads(line)
                    kind, iid, box = r["kind"], str(r["id"]), r["box"]
                    box = [float(box[k]) for k in ("x", "y", "w", "h")]
                    if kind == "closed":
                        self.closed(iid, float(r["started_at"]))
                    elif kind in ("opened", "updated"):
                        self.sighting(incident_id=iid, camera=str(r["camera"]), label=str(r["label"]),
                                      started_at=float(r["started_at"]), at=float(r["started_at"]),
                                      confidence=float(r["confidence"]), update_no=int(r["update"]), box=box,
                                      event_id=r.get("event_id"), url=r.get("url"), model=None,
                                      snapshot=Path(r["snapshot"]).name if r.get("snapshot") else None,
                                      frame=None, frame_box=None)
                        added.add(iid)
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # a torn last line or a hand edit: the rest still counts
        return len(added)

    # --- read and written by the pages --------------------------------------------------

    def page(self, camera: str | None = None, state: str | None = None, limit: int = 50,
             offset: int = 0) -> list[ReviewIncident]:
        """Incidents newest first, optionally of one camera and one state."""
        where, params = self._where(camera, state)
        rows = self._read(f"SELECT {_COLUMNS} FROM incidents i {where} ORDER BY i.started_at DESC, i.id"
                          " LIMIT ? OFFSET ?", (*params, limit, offset))
        return [ReviewIncident(*r) for r in rows]

    def count(self, camera: str | None = None, state: str | None = None) -> int:
        where, params = self._where(camera, state)
        return self._read(f"SELECT COUNT(*) FROM incidents i {where}", params)[0][0]

    @staticmethod
    def _where(camera: str | None, state: str | None) -> tuple[str, tuple]:
        clauses, params = [], []
        if camera:
            clauses.append("i.camera = ?")
            params.append(camera)
        if state:
            clauses.append("i.state = ?")
            params.append(state)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)

    def cameras(self) -> list[str]:
        return [r[0] for r in self._read("SELECT DISTINCT camera FROM incidents ORDER BY camera")]

    def get(self, incident_id: str) -> ReviewIncident | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM incidents i WHERE i.id = ?", (incident_id,))
        return ReviewIncident(*rows[0]) if rows else None

    def snapshots(self, incident_id: str) -> list[Snapshot]:
        rows = self._read("SELECT update_no, at, confidence, box, snapshot, frame, frame_box FROM snapshots"
                          " WHERE incident_id = ? ORDER BY update_no", (incident_id,))
        return [Snapshot(n, at, conf, json.loads(box), snap, frame, json.loads(fb) if fb else None)
                for n, at, conf, box, snap, frame, fb in rows]

    def set_verdict(self, incident_id: str, state: str, note: str | None) -> bool:
        """Store the admin's verdict; False when the incident is unknown."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)} (got {state!r})")
        with self._lock, self._db:
            return self._db.execute("UPDATE incidents SET state = ?, note = ?, reviewed_at = ? WHERE id = ?",
                                    (state, note or None, time.time(), incident_id)).rowcount > 0
