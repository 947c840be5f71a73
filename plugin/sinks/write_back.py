"""Durable write-back into a recorder: what a recorder integration writes (ZoneMinder notes,
objdetect.jpg and alarms, Frigate sub labels and events) goes through this journal, as alerts go
through the outbox.

An integration's write-back sink decides on the pipeline's thread *what* to write (cheap, no
network) and files it here as a job; a worker thread per recorder does the writing. So a slow or
stopped recorder delays no detection, and a job survives a restart of gunwatch (kill -9 included):
it stays in SQLite until the recorder took it, refused it for good, or `retry_for_s` has passed.

A job has a key (e.g. `notes:1234`): filing a key that is still waiting replaces its payload
(a later sighting with a higher confidence), so one write per key is pending at a time. A
delivery answers with one of:
- nothing (done);
- `Later(seconds, why)`: not an error, look again then (ZoneMinder notes are checked again until
  the event closes, because ZoneMinder rewrites them while it records);
- `RecorderUnavailable`: the recorder did not answer; retried with backoff up to 30 s apart;
- `WriteRefused`: the recorder answered no; logged and dropped (retrying cannot help).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import GunwatchError
from ..statedb import open_state_db

log = logging.getLogger(__name__)

FILE_NAME = "write-back.sqlite"
FIRST_RETRY_S = 1.0
LONGEST_RETRY_S = 30.0
# How long a job whose recorder does not answer is kept trying: a recorder down for a night's
# maintenance still gets what it missed.
DEFAULT_RETRY_FOR_S = 24 * 3600.0
# Finished jobs are kept this long, for `gunwatch doctor`-style questions and tests.
KEEP_FINISHED_S = 7 * 24 * 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recorder    TEXT NOT NULL,            -- the source's name: one journal, several recorders
    kind        TEXT NOT NULL,            -- what to write: notes, objdetect, alarm, sub_label, ...
    key         TEXT NOT NULL,            -- one pending job per (recorder, key)
    payload     TEXT NOT NULL,            -- JSON
    blob        BLOB,                     -- a picture, when the write needs one
    state       TEXT NOT NULL,            -- pending, done, failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    due         REAL NOT NULL,            -- epoch seconds
    created_at  REAL NOT NULL,
    finished_at REAL,
    reason      TEXT                      -- the last error, or why it failed
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_pending_key ON jobs(recorder, key) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(recorder, state, due);
"""


class RecorderUnavailable(GunwatchError):
    """The recorder did not answer (down, restarting, network): the write is tried again."""


class WriteRefused(GunwatchError):
    """The recorder answered and said no: trying again cannot help."""


@dataclass(frozen=True)
class Later:
    """Look at this job again in `seconds` (not an error; its retry budget is not touched)."""

    seconds: float
    why: str = ""


@dataclass(frozen=True)
class Job:
    id: int
    recorder: str
    kind: str
    key: str
    payload: dict[str, Any]
    blob: bytes | None
    attempts: int
    created_at: float


class WriteBackJournal:
    """The jobs of every recorder, in one SQLite file under state_dir (None: in memory, for the
    one-event `zm-hook`, which finishes its writes before it exits)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = open_state_db(path, SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise GunwatchError(f"cannot open the write-back journal {path} ({exc}); make state_dir "
                                "writable for the gunwatch user") from exc
        self._db.execute("DELETE FROM jobs WHERE state != 'pending' AND finished_at < ?",
                         (time.time() - KEEP_FINISHED_S,))

    def put(self, recorder: str, kind: str, key: str, payload: dict[str, Any],
            blob: bytes | None = None, delay_s: float = 0.0, reschedule: bool = False) -> None:
        """File a job (`key` already waiting: its payload is replaced, and its due time too
        when `reschedule`)."""
        now = time.time()
        with self._lock:
            updated = self._db.execute(
                "UPDATE jobs SET payload = ?, blob = COALESCE(?, blob), due = CASE WHEN ? THEN ? ELSE due END "
                "WHERE recorder = ? AND key = ? AND state = 'pending'",
                (json.dumps(payload), blob, reschedule, now + delay_s, recorder, key)).rowcount
            if not updated:
                self._db.execute(
                    "INSERT INTO jobs (recorder, kind, key, payload, blob, state, due, created_at) "
                    "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                    (recorder, kind, key, json.dumps(payload), blob, now + delay_s, now))

    def due(self, recorder: str, now: float | None = None) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, recorder, kind, key, payload, blob, attempts, created_at FROM jobs "
                "WHERE recorder = ? AND state = 'pending' AND due <= ? ORDER BY due, id",
                (recorder, time.time() if now is None else now)).fetchall()
        return [Job(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def due_now(self, recorder: str) -> None:
        """Everything pending of `recorder` is due now: gunwatch starts, and a recorder often
        comes back with it (both restarted after a power cut)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET due = MIN(due, ?) WHERE recorder = ? AND state = 'pending'",
                             (time.time(), recorder))

    def next_due(self, recorder: str) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(due) FROM jobs WHERE recorder = ? AND state = 'pending'",
                                   (recorder,)).fetchone()
        return row[0]

    def pending(self, recorder: str | None = None) -> list[Job]:
        """Jobs still to write (all recorders' when `recorder` is None)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, recorder, kind, key, payload, blob, attempts, created_at FROM jobs "
                "WHERE state = 'pending' AND (? IS NULL OR recorder = ?) ORDER BY id",
                (recorder, recorder)).fetchall()
        return [Job(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def state(self, recorder: str, key: str) -> str | None:
        """The newest job of `key`: pending, done or failed (None: never filed)."""
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE recorder = ? AND key = ? "
                                   "ORDER BY id DESC LIMIT 1", (recorder, key)).fetchone()
        return row[0] if row else None

    def finish(self, job: Job, state: str, reason: str = "") -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET state = ?, finished_at = ?, reason = ?, attempts = attempts + 1 "
                             "WHERE id = ?", (state, time.time(), reason or None, job.id))

    def again(self, job: Job, after_s: float, reason: str, attempt: bool) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET due = ?, reason = ?, attempts = attempts + ? WHERE id = ?",
                             (time.time() + after_s, reason or None, int(attempt), job.id))

    def close(self) -> None:
        with self._lock:
            self._db.close()


Deliver = Callable[[Job], "Later | None"]


class WriteBackWorker:
    """Writes one recorder's jobs on a thread of its own, oldest due first."""

    def __init__(self, journal: WriteBackJournal, recorder: str, deliver: Deliver,
                 retry_for_s: float = DEFAULT_RETRY_FOR_S, shown: Callable[[str], str] = str):
        """`shown` makes an error loggable (e.g. takes a password out of a URL)."""
        self.journal, self.recorder, self.deliver = journal, recorder, deliver
        self.retry_for_s, self.shown = retry_for_s, shown
        self._wake = threading.Event()
        self._stop = threading.Event()
        journal.due_now(recorder)
        self._thread = threading.Thread(target=self._run, name=f"write-back {recorder}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was filed: look now rather than at the next due time."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.deliver_due()
            due = self.journal.next_due(self.recorder)
            wait = LONGEST_RETRY_S if due is None else min(max(due - time.time(), 0.0), LONGEST_RETRY_S)
            self._wake.wait(wait)
            self._wake.clear()

    def deliver_due(self, final: bool = False) -> None:
        """`final`: the last round before gunwatch stops; a job that has to wait stays filed
        for the next start."""
        for job in self.journal.due(self.recorder):
            if self._stop.is_set() and not final:
                return
            self._deliver(job)

    def _deliver(self, job: Job) -> None:
        try:
            later = self.deliver(job)
        except RecorderUnavailable as exc:
            waited = time.time() - job.created_at
            if waited > self.retry_for_s:
                self.journal.finish(job, "failed", str(exc))
                log.error("%s: %s not written back after %.0f s of trying (%s); the incident is "
                          "still in incidents.jsonl", self.recorder, job.key, waited, self.shown(str(exc)))
                return
            delay = min(LONGEST_RETRY_S, FIRST_RETRY_S * 2 ** min(job.attempts, 10))
            self.journal.again(job, delay, str(exc), attempt=True)
            log.warning("%s: recorder unavailable for %s (%s); trying again in %.0f s", self.recorder,
                        job.key, self.shown(str(exc)), delay)
            return
        except (GunwatchError, OSError) as exc:
            # WriteRefused, and local failures (an event folder gone, a picture that no longer
            # decodes): the same write would fail the same way.
            self.journal.finish(job, "failed", str(exc))
            log.error("%s: %s failed: %s", self.recorder, job.key, self.shown(str(exc)))
            return
        except Exception:  # a bug in one write must not end the worker and strand the others
            self.journal.finish(job, "failed", "unexpected error (see the log)")
            log.exception("%s: %s failed", self.recorder, job.key)
            return
        if later is None:
            self.journal.finish(job, "done")
        else:
            self.journal.again(job, later.seconds, later.why, attempt=False)

    def close(self, timeout: float = 10.0) -> None:
        """Stop after one last round of what is due now; the rest stays filed."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.deliver_due(final=True)
