"""The small SQLite files in which gunwatch remembers what it has analysed and what it still has
to write (ZoneMinder's event ledger, the folder journal, the write-back journal): one way to open
them, so all survive a kill -9 alike."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_state_db(path: Path | None, schema: str) -> sqlite3.Connection:
    """A connection for several threads (callers hold their own lock); `path=None` keeps it in
    memory. isolation_level=None: every statement commits at once, so a kill -9 loses nothing
    that was acknowledged."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(schema)
    return db
