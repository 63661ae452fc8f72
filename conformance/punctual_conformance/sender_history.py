"""The reference sender's event history: every event, every attempt, and the delivery state,
in SQLite (standard library), durable across crashes.

Tables (one delivery per event; the reference sender delivers an event to one endpoint):

* ``deliveries``: ``event_id`` (primary key), ``event_type``, ``url``, ``body`` (the exact bytes
  that are sent and signed on every attempt, also after a restart), ``state``, ``attempts``,
  ``next_attempt_at`` (Unix time, ``NULL`` once settled), ``final`` (1 after the last attempt
  failed: the sender gave up), ``lease_until`` (an attempt is under way in some process until
  then), ``created_at``, ``updated_at``;
* ``attempts``: ``event_id``, ``number`` (1, 2, …), ``started_at`` (RFC 3339 UTC),
  ``duration_ms``, ``response_code`` (``NULL`` for a timeout or a connection error), ``error``,
  ``outcome`` (``in-flight`` while under way, then ``delivered`` / ``failed``, or
  ``interrupted`` when the sender died during the attempt).

Delivery states follow the product page: ``pending`` (queued, no attempt failed yet),
``retrying`` (an attempt after an earlier failure is under way), ``failed`` (the last attempt
failed), ``delivered`` (a 2xx came back; final).

Decision — how a final give-up is shown: the state stays ``failed`` (the page has no other
word) and ``final`` becomes 1 with ``next_attempt_at`` NULL; the attempt line printed for the
last attempt carries ``"final": true`` and the history command shows ``failed (final)``. While
attempts remain, ``failed`` means "will be retried" and ``next_attempt_at`` says when.

Every change is one transaction; the database runs in WAL mode with a busy timeout, so a
second process reading the history (or resuming) does not fail on a lock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

__all__ = ["AttemptRecord", "Delivery", "DeliveryState", "SenderHistory", "rfc3339"]


class DeliveryState(str, Enum):
    PENDING = "pending"
    RETRYING = "retrying"
    FAILED = "failed"
    DELIVERED = "delivered"


def rfc3339(unix_time: float) -> str:
    """RFC 3339 UTC with milliseconds and a ``Z``."""
    moment = dt.datetime.fromtimestamp(unix_time, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Delivery:
    event_id: str
    event_type: str
    url: str
    body: bytes
    state: DeliveryState
    attempts: int
    next_attempt_at: float | None
    final: bool
    lease_until: float | None
    created_at: str
    updated_at: str

    @property
    def settled(self) -> bool:
        return self.state is DeliveryState.DELIVERED or self.final

    @property
    def shown_state(self) -> str:
        return f"{self.state.value} (final)" if self.final else self.state.value


@dataclass(frozen=True)
class AttemptRecord:
    event_id: str
    number: int
    started_at: str
    duration_ms: float | None
    response_code: int | None
    error: str | None
    outcome: str

    def as_line(self, delivery_final: bool = False) -> dict[str, object]:
        """The attempt line of the sender command contract (section 5)."""
        line: dict[str, object] = {
            "attempt": self.number,
            "status": "delivered" if self.outcome == "delivered" else "failed",
            "response_code": self.response_code,
            "at": self.started_at,
        }
        if delivery_final:
            line["final"] = True
        return line


_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    url TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'retrying', 'failed', 'delivered')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    final INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    event_id TEXT NOT NULL REFERENCES deliveries(event_id),
    number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    duration_ms REAL,
    response_code INTEGER,
    error TEXT,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('in-flight', 'delivered', 'failed', 'interrupted')),
    PRIMARY KEY (event_id, number)
);
"""

_DELIVERY_COLUMNS = (
    "event_id, event_type, url, body, state, attempts, next_attempt_at, final, lease_until, "
    "created_at, updated_at"
)


class SenderHistory:
    """The SQLite history; safe to share between threads and between processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SenderHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------

    def enqueue(self, event_id: str, event_type: str, url: str, body: bytes,
                now: float | None = None) -> bool:
        """Queue an event (state ``pending``, due now); ``False`` if the id is known already
        (then nothing changes: the stored bytes stay the ones that are sent)."""
        now = time.time() if now is None else now
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (event_id, event_type, url, body, state, "
                "attempts, next_attempt_at, final, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?)",
                (event_id, event_type, url, body, now, rfc3339(now), rfc3339(now)),
            )
            return cursor.rowcount == 1

    def begin_attempt(self, event_id: str, lease_s: float,
                      now: float | None = None) -> int | None:
        """Claim the next attempt of an event: returns its number, or ``None`` when another
        process holds the lease (an attempt is under way there) or the event is settled."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT attempts, state, final, lease_until FROM deliveries "
                    "WHERE event_id = ?", (event_id,)).fetchone()
                if row is None or row[1] == "delivered" or row[2] or (
                        row[3] is not None and row[3] > now):
                    self._db.execute("ROLLBACK")
                    return None
                # An attempt still in flight whose lease ran out died with its process.
                self._db.execute(
                    "UPDATE attempts SET outcome = 'interrupted', "
                    "error = 'the sender stopped during the attempt' "
                    "WHERE event_id = ? AND outcome = 'in-flight'", (event_id,))
                number = int(row[0]) + 1
                state = "pending" if number == 1 else "retrying"
                self._db.execute(
                    "UPDATE deliveries SET attempts = ?, state = ?, lease_until = ?, "
                    "updated_at = ? WHERE event_id = ?",
                    (number, state, now + lease_s, rfc3339(now), event_id))
                self._db.execute(
                    "INSERT INTO attempts (event_id, number, started_at, outcome) "
                    "VALUES (?, ?, ?, 'in-flight')", (event_id, number, rfc3339(now)))
                self._db.execute("COMMIT")
                return number
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def finish_attempt(self, event_id: str, number: int, *, response_code: int | None,
                       error: str | None, duration_ms: float, delivered: bool,
                       next_attempt_at: float | None, now: float | None = None) -> None:
        """Record an attempt's result. Not delivered and no ``next_attempt_at``: gave up."""
        now = time.time() if now is None else now
        outcome = "delivered" if delivered else "failed"
        final = 0 if delivered or next_attempt_at is not None else 1
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE attempts SET duration_ms = ?, response_code = ?, error = ?, "
                    "outcome = ? WHERE event_id = ? AND number = ?",
                    (duration_ms, response_code, error, outcome, event_id, number))
                # A late success of an already delivered event (never for the reference
                # sender) leaves it delivered; nothing un-delivers an event.
                self._db.execute(
                    "UPDATE deliveries SET state = CASE WHEN state = 'delivered' THEN state "
                    "ELSE ? END, next_attempt_at = ?, final = CASE WHEN state = 'delivered' "
                    "THEN 0 ELSE ? END, lease_until = NULL, updated_at = ? WHERE event_id = ?",
                    (outcome, None if delivered else next_attempt_at, final, rfc3339(now),
                     event_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def recover_interrupted(self, now: float | None = None) -> int:
        """After a crash: attempts left ``in-flight`` whose lease ran out become
        ``interrupted`` and their events ``failed``, due now. Returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                stale = self._db.execute(
                    "SELECT event_id FROM deliveries WHERE lease_until IS NOT NULL "
                    "AND lease_until <= ? AND state != 'delivered'", (now,)).fetchall()
                for (event_id,) in stale:
                    self._db.execute(
                        "UPDATE attempts SET outcome = 'interrupted', "
                        "error = 'the sender stopped during the attempt' "
                        "WHERE event_id = ? AND outcome = 'in-flight'", (event_id,))
                    self._db.execute(
                        "UPDATE deliveries SET state = 'failed', lease_until = NULL, "
                        "next_attempt_at = ?, updated_at = ? WHERE event_id = ?",
                        (now, rfc3339(now), event_id))
                self._db.execute("COMMIT")
                return len(stale)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- reads ---------------------------------------------------------------------------

    def get(self, event_id: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ?",  # noqa: S608
                (event_id,)).fetchone()
        return None if row is None else _delivery(row)

    def unsettled(self) -> list[Delivery]:
        """Deliveries still to be attempted, the earliest due first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "  # noqa: S608
                "WHERE state != 'delivered' AND final = 0 "
                "ORDER BY next_attempt_at, created_at").fetchall()
        return [_delivery(row) for row in rows]

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries "  # noqa: S608
                "ORDER BY created_at, event_id").fetchall()
        return [_delivery(row) for row in rows]

    def attempts(self, event_id: str) -> list[AttemptRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, number, started_at, duration_ms, response_code, error, "
                "outcome FROM attempts WHERE event_id = ? ORDER BY number",
                (event_id,)).fetchall()
        return [AttemptRecord(*row) for row in rows]


def _delivery(row: tuple[object, ...]) -> Delivery:
    (event_id, event_type, url, body, state, attempts, next_at, final, lease, created,
     updated) = row
    return Delivery(
        event_id=str(event_id), event_type=str(event_type), url=str(url),
        body=bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else b"",
        state=DeliveryState(str(state)), attempts=int(str(attempts)),
        next_attempt_at=None if next_at is None else float(str(next_at)),
        final=bool(final), lease_until=None if lease is None else float(str(lease)),
        created_at=str(created), updated_at=str(updated),
    )
