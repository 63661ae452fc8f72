"""The reference receiver's dedupe store: SQLite, keyed on the event id.

Punctual delivers at least once, so a receiver must dedupe on the envelope ``id``. The pattern
shown here is the one to copy: *record the event id and perform the side effect in one
transaction*.

``process_once`` opens ``BEGIN IMMEDIATE`` (takes the write lock), inserts the id into a table
whose primary key is the id, runs the side effect, and commits:

* a concurrent or later copy of the same event hits the unique key → it is a duplicate, nothing
  runs, and the caller still acknowledges it (``process_once`` returns ``False``);
* if the side effect raises (or the process dies) before the commit, the transaction rolls back
  and no record is left, so the sender's retry processes the event again.

Two tables: ``events`` is the dedupe key; ``effects`` is a ledger with one row per performed side
effect, which is what ``processed_count`` (the observer of the conformance profile) reports.
``record_effect`` appends to the ledger *without* dedupe: it exists so tests can build
deliberately flawed receivers whose double processing the observer then shows.

Thread safety: every call opens its own connection (cheap for SQLite) with a busy timeout, so
any number of handler threads can share one store. The file is durable: a new store on the same
path sees everything committed before.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["ReceiverStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id   TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    first_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    at         REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS effects_by_event ON effects (event_id);
"""


class ReceiverStore:
    """Durable, thread-safe dedupe store.

    ``path``: the SQLite file; ``None`` makes one in a temporary directory owned by the store
    (removed when the store is garbage collected or the interpreter exits).
    ``busy_timeout``: seconds a writer waits for the lock before SQLite gives up.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 30.0):
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="punctual-receiver-store-")
            path = Path(self._tmpdir.name) / "events.sqlite3"
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        conn = self._connect()
        try:
            # WAL lets the observer read while a delivery writes; the setting sticks to the file.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"ReceiverStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; this module says BEGIN/COMMIT itself.
        return sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )

    def process_once(
        self,
        event_id: str,
        event_type: str,
        side_effect: Callable[[], None] | None = None,
    ) -> bool:
        """Process the event unless it was processed before; return ``True`` if it ran now.

        ``side_effect`` runs inside the transaction, after the id is claimed: if it raises, the
        claim is rolled back and the exception propagates (answer 5xx; the retry will process).
        It must not use this store's file itself (the write lock is held).
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO events (event_id, event_type, first_seen) VALUES (?, ?, ?)",
                    (event_id, event_type, time.time()),
                )
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                return False  # a duplicate: already processed (or being processed and committed)
            try:
                if side_effect is not None:
                    side_effect()
                self._append_effect(conn, event_id, event_type)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return True
        finally:
            conn.close()

    def record_effect(self, event_id: str, event_type: str) -> None:
        """Append one performed side effect to the ledger, with no dedupe (for flawed receivers)."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._append_effect(conn, event_id, event_type)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def processed_count(self, event_id: str) -> int:
        """How many times the side effect of ``event_id`` was performed (0 if never)."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM effects WHERE event_id = ?", (event_id,)
            ).fetchone()
        finally:
            conn.close()
        return int(row[0])

    @staticmethod
    def _append_effect(conn: sqlite3.Connection, event_id: str, event_type: str) -> None:
        conn.execute(
            "INSERT INTO effects (event_id, event_type, at) VALUES (?, ?, ?)",
            (event_id, event_type, time.time()),
        )
