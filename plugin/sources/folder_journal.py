"""What a folder source has seen and analysed, kept in SQLite (the ZoneMinder ledger's pattern,
zoneminder/ledger.py), so that a kill -9 or a downtime loses no picture: on start the folders are
listed and every picture the journal does not know in its present form is analysed.

A picture is known by its path and its (size, mtime) identity: a camera that rewrites one
`latest.jpg` makes a new picture each time. States: `baseline` (there before the journal's first
start: the folder's archive, not analysed), `done` (the pipeline acknowledged it), `aside`
(it never became a readable picture; logged once, not retried unless it changes).
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..statedb import open_state_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL,           -- baseline | done | aside
    reason TEXT
);
"""

Identity = tuple[int, int]  # (size, mtime_ns)


class FolderJournal:
    """Thread-safe; `path=None` keeps it in memory (nothing survives the process)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db = open_state_db(path, _SCHEMA)
        self._lock = threading.Lock()

    def first_start(self) -> bool:
        """True until `started()`: the folders' present pictures are then the archive."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM meta WHERE key='started'").fetchone() is None

    def started(self, baseline: dict[str, Identity]) -> None:
        """Record the pictures present at the first start as not to be analysed."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO files(path, size, mtime_ns, state) VALUES(?, ?, ?, 'baseline')",
                [(p, size, mtime) for p, (size, mtime) in baseline.items()])
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('started', '1')")
            self._db.execute("COMMIT")

    def state(self, path: str, identity: Identity) -> str | None:
        """The journal's state of this picture, None when it is new (or changed since)."""
        with self._lock:
            row = self._db.execute("SELECT size, mtime_ns, state FROM files WHERE path=?", (path,)).fetchone()
        return row[2] if row and (row[0], row[1]) == identity else None

    def record(self, path: str, identity: Identity, state: str, reason: str | None = None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO files(path, size, mtime_ns, state, reason) VALUES(?, ?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns, "
                "state=excluded.state, reason=excluded.reason", (path, *identity, state, reason))

    def forget_missing(self, roots: list[Path], present: set[str]) -> int:
        """Drop the rows of files under `roots` that are gone (deleted, moved, rotated)."""
        with self._lock:
            rows = [r[0] for r in self._db.execute("SELECT path FROM files")]
            gone = [p for p in rows if p not in present and any(Path(p).is_relative_to(r) for r in roots)]
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM files WHERE path=?", [(p,) for p in gone])
            self._db.execute("COMMIT")
        return len(gone)

    def close(self) -> None:
        with self._lock:
            self._db.close()
