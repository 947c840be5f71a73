"""The durable alert outbox: every incident becomes alert rows in SQLite before anything is sent.

States of an alert row (one per incident, channel and recipient, the idempotency key):

    held ──> queued ──> sending ──> sent ──> delivered
               ^  │        │ │        └────> failed
               └──┼────────┘ └──────> delivered | failed
    skipped <─────┘ (policy, schedule, or another number of an escalation chain answered)

`queued -> sending` is committed before the provider is contacted, and `sending -> sent` (with the
provider's id, e.g. the Twilio SID) right after it answered. A process killed between the two
leaves the row in `sending`; the next worker puts it back to `queued` and sends it again. That
is the only duplicate window: from the moment the provider accepted the request until our
commit of its answer (one network round trip plus one SQLite commit). Rows already `sent` are
never sent again.

Updates of an incident (same id, higher `update`) change the stored incident only. Messages are
rendered from the stored incident when they are sent, so rows still `queued` or `held` carry the
update; rows already sending or sent are not sent again.

If the outbox file cannot be written (read-only directory, full disk) the outbox says so at
ERROR, keeps the affected incidents in an in-memory SQLite store and delivers them from there:
alerts still go out, but those are not crash-safe.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

from ..config import GunwatchConfig
from ..domain import BBox, Incident
from ..errors import AlertDeliveryError
from .channel import CheckResult, Delivery, SendResult, mask
from .config import AlertsConfig
from .policy import IncidentGate, plan_recipient

log = logging.getLogger(__name__)

REOPEN_S = 60.0  # how often to try again an outbox file that could not be opened

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id          TEXT PRIMARY KEY,
    camera      TEXT NOT NULL,
    started_at  REAL NOT NULL,
    label       TEXT NOT NULL,
    confidence  REAL NOT NULL,
    box         TEXT NOT NULL,            -- JSON [x, y, w, h]
    update_no   INTEGER NOT NULL,
    snapshot    TEXT,
    event_id    TEXT,
    url         TEXT,
    received_at REAL NOT NULL,
    updated_at  REAL NOT NULL,
    suppressed  TEXT                      -- policy reason when the incident alerted nobody
);
CREATE TABLE IF NOT EXISTS alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     TEXT NOT NULL REFERENCES incidents(id),
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,
    chain_pos       INTEGER,              -- place in an escalation chain, NULL outside one
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,                 -- queued: when to send; sent: when to ask for status
    lease_until     REAL,                 -- sending: when another process may assume we died
    owner           TEXT,                 -- sending: host:pid of the process sending it
    provider_id     TEXT,                 -- Twilio SID, SMTP Message-ID, ...
    reason          TEXT,                 -- last error, or why it was skipped / deferred
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    sent_at         REAL,
    UNIQUE (incident_id, channel, recipient)
);
CREATE INDEX IF NOT EXISTS alerts_due ON alerts (channel, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS alerts_recipient ON alerts (channel, recipient, id);
PRAGMA user_version = 1;
"""

# Per channel and recipient only the oldest unfinished row may go: alerts reach a recipient in
# incident order, and while a provider is down one row per recipient is retried, not all of them.
_HEAD_OF_LINE = """NOT EXISTS (SELECT 1 FROM alerts b WHERE b.channel = a.channel
    AND b.recipient = a.recipient AND b.id < a.id AND b.state IN ('queued', 'sending'))"""
_LAST_SENT = """COALESCE((SELECT MAX(c.sent_at) FROM alerts c WHERE c.channel = a.channel
    AND c.recipient = a.recipient), 0)"""

_DELIVERY_COLUMNS = """a.id, a.channel, a.recipient, a.attempts, a.created_at, a.provider_id, a.sent_at,
    i.id, i.camera, i.started_at, i.label, i.confidence, i.box, i.update_no, i.snapshot,
    i.event_id, i.url"""


class OutboxStorageError(AlertDeliveryError):
    """The outbox database cannot be created, read or written."""


@dataclass(frozen=True, slots=True)
class NewAlert:
    channel: str
    recipient: str
    state: str
    due_at: float
    reason: str | None
    chain_pos: int | None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One row as `gunwatch alerts` shows it."""

    id: int
    incident_id: str
    camera: str
    confidence: float
    update_no: int
    channel: str
    recipient: str
    state: str
    attempts: int
    provider_id: str | None
    reason: str | None
    created_at: float
    updated_at: float
    sent_at: float | None


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """What enqueue did with an incident."""

    action: Literal["alerting", "suppressed", "folded", "duplicate"]
    alerts: int        # rows created, or (folded) unsent rows that carry the update
    durable: bool      # False: kept in memory only, lost if the process dies
    reason: str | None = None


def _hint(message: str, path: Path) -> str:
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return f"the file or folder is read-only: make {path.parent} writable for gunwatch or " \
               f"set alerts.outbox to a writable place"
    if "full" in lowered or "no space" in lowered:
        return f"the disk is full: free space on the file system of {path.parent}"
    if "unable to open" in lowered or "permission" in lowered or "denied" in lowered:
        return f"check that {path.parent} exists and gunwatch may write there"
    return "check the disk and the file's permissions"


class Store:
    """One SQLite outbox database: a file (WAL, synchronous=FULL) or, with path None, memory.

    One connection guarded by a lock serves all threads of the process; other processes (the
    `gunwatch alerts` listing, a second deliverer) meet it through SQLite's file locking.
    """

    def __init__(self, path: Path | None, readonly: bool = False):
        self.path = path
        self.durable = path is not None
        self._lock = threading.Lock()
        db = None
        try:
            if path is None:
                db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            elif readonly:
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     check_same_thread=False, isolation_level=None)
            else:
                db = self._open_file(path)
            db.execute("PRAGMA busy_timeout = 5000")
            if not readonly:
                db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise self._error(exc, "open the alert outbox") from exc
        self._db = db

    @staticmethod
    def _open_file(path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # Created by us first, so that it (and SQLite's -wal/-shm beside it, which copy
            # its mode) is readable by gunwatch only: it holds phone numbers and addresses.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            # FULL syncs the WAL on every commit: an incident enqueue returned for is on disk,
            # even after a power cut, not only after a process crash.
            db.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def _error(self, exc: Exception, doing: str) -> OutboxStorageError:
        where = self.path or "(memory)"
        message = getattr(exc, "strerror", None) or str(exc)
        hint = _hint(message, self.path) if self.path else "out of memory?"
        return OutboxStorageError(f"alert outbox {where}: cannot {doing} ({message}); {hint}")

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                # IMMEDIATE takes the write lock up front, so a read-then-update (claiming a
                # row) cannot interleave with another process doing the same.
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from exc

    def _read(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc, "read the alert outbox") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- incidents ------------------------------------------------------------------------

    def incident_state(self, incident_id: str) -> tuple[int, str | None] | None:
        """(stored update number, suppression reason) of a known incident, None if unknown."""
        rows = self._read("SELECT update_no, suppressed FROM incidents WHERE id = ?", (incident_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def add_incident(self, incident: Incident, now: float, suppressed: str | None,
                     alerts: list[NewAlert]) -> int | None:
        """Store a new incident and its alert rows; None if another writer stored it first."""
        with self._write("store the incident") as db:
            if not db.execute(
                "INSERT OR IGNORE INTO incidents (id, camera, started_at, label, confidence, box, update_no,"
                " snapshot, event_id, url, received_at, updated_at, suppressed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (incident.id, incident.camera, incident.started_at, incident.label,
                 incident.confidence, json.dumps(incident.box.as_list(2)), incident.update,
                 incident.snapshot, incident.event_id, incident.url, now, now, suppressed)).rowcount:
                return None
            created = 0
            for a in alerts:
                created += db.execute(
                    "INSERT OR IGNORE INTO alerts (incident_id, channel, recipient, state,"
                    " chain_pos, next_attempt_at, reason, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (incident.id, a.channel, a.recipient, a.state, a.chain_pos, a.due_at,
                     a.reason, now, now)).rowcount
        return created

    def fold_update(self, incident: Incident, now: float) -> tuple[int, int]:
        """Store a newer sighting; return (unsent rows that will carry it, rows already past)."""
        with self._write("store the incident update") as db:
            db.execute(
                "UPDATE incidents SET label = ?, confidence = ?, box = ?, update_no = ?,"
                " snapshot = COALESCE(?, snapshot), event_id = COALESCE(?, event_id),"
                " url = COALESCE(?, url), updated_at = ? WHERE id = ? AND update_no < ?",
                (incident.label, incident.confidence, json.dumps(incident.box.as_list(2)),
                 incident.update, incident.snapshot, incident.event_id, incident.url, now,
                 incident.id, incident.update))
            counts = dict(db.execute(
                "SELECT state IN ('held', 'queued'), COUNT(*) FROM alerts WHERE incident_id = ?"
                " GROUP BY 1", (incident.id,)).fetchall())
        return counts.get(1, 0), counts.get(0, 0)

    def alerted_history(self, since: float) -> list[tuple[str, float, float]]:
        """(camera, received_at, updated_at) of incidents that alerted, since `since`."""
        return self._read(
            "SELECT camera, received_at, updated_at FROM incidents WHERE suppressed IS NULL"
            " AND updated_at >= ? ORDER BY received_at", (since,))

    # --- delivery ---------------------------------------------------------------------------

    @staticmethod
    def _delivery(row: tuple) -> Delivery:
        (row_id, channel, recipient, attempts, created_at, provider_id, sent_at,
         iid, camera, started_at, label, confidence, box, update_no, snapshot, event_id, url) = row
        incident = Incident(id=iid, camera=camera, started_at=started_at, label=label,
                            confidence=confidence, box=BBox(*json.loads(box)), update=update_no,
                            snapshot=snapshot, event_id=event_id, url=url)
        return Delivery(row_id=row_id, incident=incident, channel=channel, recipient=recipient,
                        attempt=attempts, queued_at=created_at, provider_id=provider_id,
                        sent_at=sent_at)

    def claim(self, channel: str, now: float, owner: str, lease_s: float,
              spacing_s: float) -> Delivery | None:
        """Mark the next due alert of `channel` as sending and return it: the oldest unfinished
        row of its recipient, not before `spacing_s` after that recipient's last message."""
        with self._write("claim an alert") as db:
            row = db.execute(
                "SELECT a.id FROM alerts a WHERE a.channel = :ch AND a.state = 'queued'"
                f" AND a.next_attempt_at <= :now AND {_HEAD_OF_LINE}"
                f" AND {_LAST_SENT} + :spacing <= :now"
                " ORDER BY a.next_attempt_at, a.id LIMIT 1",
                {"ch": channel, "now": now, "spacing": spacing_s}).fetchone()
            if row is None:
                return None
            db.execute("UPDATE alerts SET state = 'sending', attempts = attempts + 1, owner = ?,"
                       " lease_until = ?, updated_at = ? WHERE id = ?",
                       (owner, now + lease_s, now, row[0]))
            found = db.execute(f"SELECT {_DELIVERY_COLUMNS} FROM alerts a JOIN incidents i"
                               " ON i.id = a.incident_id WHERE a.id = ?", (row[0],)).fetchone()
        return self._delivery(found)

    def due_check(self, channel: str, now: float) -> Delivery | None:
        """A sent alert of `channel` whose status should be asked for now."""
        rows = self._read(
            f"SELECT {_DELIVERY_COLUMNS} FROM alerts a JOIN incidents i ON i.id = a.incident_id"
            " WHERE a.channel = ? AND a.state = 'sent' AND a.next_attempt_at <= ?"
            " ORDER BY a.next_attempt_at LIMIT 1", (channel, now))
        return self._delivery(rows[0]) if rows else None

    def next_due(self, channel: str, spacing_s: float) -> float | None:
        """Earliest time at which `channel` has something to send or to check."""
        rows = self._read(
            f"SELECT MIN(t) FROM (SELECT MAX(a.next_attempt_at, {_LAST_SENT} + ?) AS t"
            f"   FROM alerts a WHERE a.channel = ? AND a.state = 'queued' AND {_HEAD_OF_LINE}"
            " UNION ALL SELECT next_attempt_at FROM alerts WHERE channel = ? AND state = 'sent'"
            "   AND next_attempt_at IS NOT NULL)", (spacing_s, channel, channel))
        return rows[0][0]

    def record_sent(self, row_id: int, result: SendResult, now: float,
                    check_at: float | None) -> None:
        with self._write("record a sent alert") as db:
            db.execute("UPDATE alerts SET state = ?, provider_id = ?, reason = ?, sent_at = ?,"
                       " next_attempt_at = ?, owner = NULL, lease_until = NULL, updated_at = ?"
                       " WHERE id = ?",
                       (result.state, result.provider_id, result.detail, now,
                        check_at if result.state == "sent" else None, now, row_id))
            if result.state == "delivered":
                self._close_chain(db, row_id, now)

    def record_retry(self, row_id: int, reason: str, due_at: float, now: float) -> None:
        with self._write("record a retry") as db:
            db.execute("UPDATE alerts SET state = 'queued', reason = ?, next_attempt_at = ?,"
                       " owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
                       (reason, due_at, now, row_id))

    def record_failed(self, row_id: int, reason: str, now: float) -> bool:
        """Mark an alert failed; True when an escalation chain moved on to its next number."""
        with self._write("record a failed alert") as db:
            db.execute("UPDATE alerts SET state = 'failed', reason = ?, next_attempt_at = NULL,"
                       " owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ?",
                       (reason, now, row_id))
            return self._advance_chain(db, row_id, now)

    def record_check(self, row_id: int, result: CheckResult, now: float,
                     next_check: float | None) -> bool:
        """Store a status answer; True when an escalation chain moved on to its next number."""
        with self._write("record a delivery status") as db:
            db.execute("UPDATE alerts SET state = ?, reason = ?, next_attempt_at = ?,"
                       " updated_at = ? WHERE id = ? AND state = 'sent'",
                       (result.state, result.detail, next_check, now, row_id))
            if result.state == "delivered":
                self._close_chain(db, row_id, now)
            elif result.state == "failed":
                return self._advance_chain(db, row_id, now)
        return False

    @staticmethod
    def _advance_chain(db: sqlite3.Connection, row_id: int, now: float) -> bool:
        """An escalation step failed: queue the next number of the chain."""
        return 0 < db.execute(
            "UPDATE alerts SET state = 'queued', next_attempt_at = ?, updated_at = ?,"
            " reason = 'escalated: the previous number was not reached' WHERE id = ("
            "  SELECT n.id FROM alerts n JOIN alerts a ON n.incident_id = a.incident_id"
            "  AND n.channel = a.channel WHERE a.id = ? AND a.chain_pos IS NOT NULL"
            "  AND n.state = 'held' AND n.chain_pos > a.chain_pos ORDER BY n.chain_pos LIMIT 1)",
            (now, now, row_id)).rowcount

    @staticmethod
    def _close_chain(db: sqlite3.Connection, row_id: int, now: float) -> None:
        """Someone in an escalation chain answered: the numbers after them are not called."""
        found = db.execute("SELECT incident_id, channel, recipient, chain_pos FROM alerts"
                           " WHERE id = ?", (row_id,)).fetchone()
        if found is None or found[3] is None:
            return
        db.execute("UPDATE alerts SET state = 'skipped', reason = ?, updated_at = ?"
                   " WHERE incident_id = ? AND channel = ? AND state = 'held'",
                   (f"not called: {mask(found[2])} answered", now, found[0], found[1]))

    def requeue_orphans(self, now: float, alive: Callable[[str], bool]) -> list[int]:
        """Put back to `queued` the rows left `sending` by a process that is gone."""
        with self._write("recover interrupted alerts") as db:
            rows = [r[0] for r in db.execute(
                "SELECT id, owner, lease_until FROM alerts WHERE state = 'sending'").fetchall()
                if r[2] is None or r[2] < now or not alive(r[1] or "")]
            for row_id in rows:
                db.execute("UPDATE alerts SET state = 'queued', next_attempt_at = ?, owner = NULL,"
                           " lease_until = NULL, updated_at = ?, reason = 'interrupted while"
                           " sending (the delivering process stopped); sending again' WHERE id = ?",
                           (now, now, row_id))
        return rows

    def fail_unknown_channels(self, known: set[str], now: float) -> int:
        """Rows of channels no longer configured would wait forever: fail them visibly."""
        marks = ",".join("?" * len(known)) or "''"
        with self._write("fail alerts of removed channels") as db:
            return db.execute(
                f"UPDATE alerts SET state = 'failed', updated_at = ?, next_attempt_at = NULL,"
                f" reason = 'channel ' || channel || ' is no longer configured'"
                f" WHERE state IN ('held', 'queued') AND channel NOT IN ({marks})",
                (now, *sorted(known))).rowcount

    def open_count(self) -> int:
        """Rows still to send, being sent, or waiting for a status answer."""
        return self._read("SELECT COUNT(*) FROM alerts WHERE state IN ('held', 'queued', 'sending')"
                          " OR (state = 'sent' AND next_attempt_at IS NOT NULL)")[0][0]

    def prune(self, before: float) -> int:
        """Delete finished alerts (and their incidents) last changed before `before`."""
        with self._write("prune old alerts") as db:
            gone = db.execute("DELETE FROM alerts WHERE updated_at < ? AND (state IN"
                              " ('delivered', 'failed', 'skipped') OR (state = 'sent' AND"
                              " next_attempt_at IS NULL))", (before,)).rowcount
            db.execute("DELETE FROM incidents WHERE updated_at < ? AND id NOT IN"
                       " (SELECT incident_id FROM alerts)", (before,))
        return gone

    def counts(self) -> list[tuple[str, str, int]]:
        """(channel, state, number of alerts), for /metrics."""
        return self._read("SELECT channel, state, COUNT(*) FROM alerts GROUP BY channel, state")

    def recent(self, limit: int, state: str | None = None) -> list[AlertRecord]:
        where, params = ("WHERE a.state = ?", (state, limit)) if state else ("", (limit,))
        rows = self._read(
            "SELECT a.id, i.id, i.camera, i.confidence, i.update_no, a.channel, a.recipient,"
            " a.state, a.attempts, a.provider_id, a.reason, a.created_at, a.updated_at, a.sent_at"
            f" FROM alerts a JOIN incidents i ON i.id = a.incident_id {where}"
            " ORDER BY a.id DESC LIMIT ?", params)
        return [AlertRecord(*r) for r in rows]


def outbox_path(config: GunwatchConfig) -> Path:
    return config.alerts.outbox or config.state_dir / "alerts.sqlite"


class Outbox:
    """Where confirmed incidents go: `enqueue(incident)` stores alert rows and returns at once.

    It never touches the network and never raises on a storage problem: when the outbox file
    cannot be written, the incident is kept in memory and delivered from there, at ERROR.
    """

    def __init__(self, alerts: AlertsConfig, path: Path, clock: Callable[[], float] = time.time):
        self.config = alerts
        self.path = path
        self._clock = clock
        self._tz = alerts.zone()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._memory: Store | None = None
        self.gate = IncidentGate(alerts.policy)
        self.disk: Store | None = None
        self._reopen_at = self._clock() + REOPEN_S
        try:
            self.disk = Store(path)
        except OutboxStorageError as exc:
            log.error("%s. Until then alerts are kept in memory: they are still delivered, but "
                      "lost if gunwatch stops before that", exc)
            self._memory = Store(None)
        if self.disk is not None:
            policy = alerts.policy
            since = self._clock() - max(policy.camera_cooldown_s, policy.rate_limit.window_s)
            self.gate.seed(self.disk.alerted_history(since))

    @property
    def durable(self) -> bool:
        """False while any alert lives in memory only."""
        return self._memory is None

    def stores(self) -> list[Store]:
        return [s for s in (self.disk, self._memory) if s is not None]

    def _disk_store(self, now: float) -> Store | None:
        """The outbox file, opened again now and then while it could not be opened."""
        if self.disk is None and now >= self._reopen_at:
            self._reopen_at = now + REOPEN_S
            try:
                self.disk = Store(self.path)
            except OutboxStorageError:
                return None  # still broken; said at ERROR when it first failed
            log.warning("alert outbox %s can be written again; new alerts are stored there",
                        self.path)
        return self.disk

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call `callback` (quickly, without blocking) whenever new alerts were queued."""
        self._listeners.append(callback)

    def enqueue(self, incident: Incident) -> EnqueueResult:
        """Record an incident (or a newer sighting of one) and queue its alerts."""
        now = self._clock()
        with self._lock:
            result = None
            in_memory = self._memory is not None and self._memory.incident_state(incident.id)
            disk = None if in_memory else self._disk_store(now)
            if disk is not None:
                try:
                    result = self._enqueue_into(disk, incident, now)
                except OutboxStorageError as exc:
                    log.error("camera=%s incident=%s: %s. Keeping this alert in memory and "
                              "delivering it from there; it is lost if gunwatch stops first",
                              incident.camera, incident.id, exc)
            if result is None:
                if self._memory is None:
                    self._memory = Store(None)
                result = self._enqueue_into(self._memory, incident, now)
        if result.alerts and result.action == "alerting":
            for callback in self._listeners:
                callback()
        return result

    def _enqueue_into(self, store: Store, incident: Incident, now: float) -> EnqueueResult:
        known = store.incident_state(incident.id)
        if known is not None:
            update_no, suppressed = known
            if incident.update <= update_no:
                log.debug("camera=%s incident=%s: update %d already recorded", incident.camera,
                          incident.id, incident.update)
                return EnqueueResult("duplicate", 0, store.durable, f"update {incident.update} "
                                     f"already recorded")
            unsent, past = store.fold_update(incident, now)
            if suppressed is None:
                self.gate.touch(incident.camera, now)
            log.info("camera=%s incident=%s: update %d folded into %d unsent alerts "
                     "(%d already sent or settled are not sent again)", incident.camera,
                     incident.id, incident.update, unsent, past)
            return EnqueueResult("folded", unsent, store.durable,
                                 f"{past} alerts already sent or settled are not sent again")
        suppressed = self.gate.check(incident.camera, now)
        planned = self._plan(incident, now, suppressed)
        created = store.add_incident(incident, now, suppressed, planned)
        if created is None:
            return EnqueueResult("duplicate", 0, store.durable, "stored meanwhile by another process")
        if suppressed is not None:
            log.warning("camera=%s incident=%s: not alerting: %s", incident.camera, incident.id,
                        suppressed)
            return EnqueueResult("suppressed", created, store.durable, suppressed)
        self.gate.admit(incident.camera, now)
        if not self.config.channels:
            log.warning("camera=%s incident=%s: recorded, but no alert channel is configured "
                        "(alerts.channels)", incident.camera, incident.id)
        elif store.durable:
            log.info("camera=%s incident=%s: %d alerts queued", incident.camera, incident.id,
                     created)
        else:
            log.warning("camera=%s incident=%s: %d alerts queued in memory only (the outbox file "
                        "cannot be written; lost if gunwatch stops before they are sent)",
                        incident.camera, incident.id, created)
        return EnqueueResult("alerting", created, store.durable)

    def _plan(self, incident: Incident, now: float, suppressed: str | None) -> list[NewAlert]:
        planned = []
        for name, cfg in self.config.channels.items():
            chain = getattr(cfg, "escalate", False)
            chain_started = False
            for pos, (recipient, rules) in enumerate(cfg.destinations(incident.camera)):
                if suppressed is not None:
                    planned.append(NewAlert(name, recipient, "skipped", now,
                                            f"skipped: {suppressed}", None))
                    continue
                # An escalation chain is about reaching someone now: a number outside its
                # schedule is passed over rather than waited for.
                plan = plan_recipient(rules, now, self._tz, allow_defer=not chain)
                state, reason = plan.state, plan.reason
                if chain and state == "queued":
                    if chain_started:
                        state = "held"
                        reason = "waiting: called only if the numbers before it do not answer"
                    chain_started = True
                planned.append(NewAlert(name, recipient, state, plan.due_at, reason,
                                        pos if chain else None))
        return planned

    def open_count(self) -> int:
        return sum(store.open_count() for store in self.stores())

    def counts(self) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = {}
        for store in self.stores():
            for channel, state, n in store.counts():
                totals[(channel, state)] = totals.get((channel, state), 0) + n
        return totals

    def close(self) -> None:
        for store in self.stores():
            store.close()


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the process named by an owner id may still be sending (unknown hosts: yes)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
