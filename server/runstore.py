"""Durable run records: one sqlite row per run, written before any RPC answers for it.

The database runs in WAL mode with synchronous=NORMAL: a commit survives the daemon being
killed (kill -9) at any point, which is the failure this store is for; a power loss may
lose the last commits. Results larger than INLINE_RESULT_LIMIT go to a file beside the
database (written to a temporary name, then renamed), so a crash never leaves a record
pointing at half a result.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rhcli.server.proto import daemon_pb2 as pb

INLINE_RESULT_LIMIT = 256 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    function    TEXT NOT NULL,
    args_digest TEXT NOT NULL,
    status      INTEGER NOT NULL,
    failure     INTEGER NOT NULL DEFAULT 0,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    started_at  REAL,
    ended_at    REAL,
    outcome     BLOB,
    result_file TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
"""

FINISHED = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT})
IN_FLIGHT = frozenset({pb.QUEUED, pb.RUNNING})

RESTART_REASON = "the daemon stopped while this run was in flight; it was not run again"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    function: str
    args_digest: str
    status: int
    failure: int
    reason: str
    created_at: float
    started_at: float | None
    ended_at: float | None


class DuplicateRunError(Exception):
    """A run id that exists already, submitted with a different payload."""


class RunStore:
    """Run records in sqlite; safe to use from many threads at once."""

    def __init__(self, db_path: Path, runs_dir: Path) -> None:
        self._runs_dir = runs_dir
        runs_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, *, run_id: str, function: str, args_digest: str, status: int) -> bool:
        """Record a new run; returns False when run_id exists with the same payload.

        Raises DuplicateRunError when run_id exists with a different payload: a client
        retry must never turn into a second, different run.
        """
        now = time.time()
        started = now if status == pb.RUNNING else None
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO runs (run_id, function, args_digest, status, created_at, "
                    "started_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, function, args_digest, status, now, started),
                )
                return True
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT function, args_digest FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
        if row != (function, args_digest):
            raise DuplicateRunError(
                f"run id {run_id} exists already with a different function or arguments; "
                "a retry must send the same payload, a new call needs a new run id"
            )
        return False

    def finish(self, run_id: str, outcome: pb.RunOutcome) -> None:
        """Store the outcome of a run and mark it ended; the outcome is complete on disk
        before the row says so."""
        result_file: str | None = None
        stored = outcome
        if len(outcome.result) > INLINE_RESULT_LIMIT:
            result_file = self._write_result_file(run_id, outcome.result)
            stored = pb.RunOutcome()
            stored.CopyFrom(outcome)
            stored.result = b""
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, failure = ?, reason = ?, started_at = ?, "
                "ended_at = ?, outcome = ?, result_file = ? WHERE run_id = ?",
                (
                    outcome.status,
                    outcome.failure,
                    outcome.reason,
                    outcome.started_at or None,
                    outcome.ended_at or time.time(),
                    stored.SerializeToString(),
                    result_file,
                    run_id,
                ),
            )

    def outcome(self, run_id: str) -> pb.RunOutcome | None:
        """The stored outcome of a finished run (result included); None while in flight."""
        with self._lock:
            row = self._db.execute(
                "SELECT outcome, result_file FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        outcome: pb.RunOutcome = pb.RunOutcome.FromString(row[0])
        if row[1]:
            outcome.result = Path(row[1]).read_bytes()
        return outcome

    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT run_id, function, args_digest, status, failure, reason, created_at, "
                "started_at, ended_at FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return RunRecord(*row) if row else None

    def count(self, status: int) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ?", (status,)
            ).fetchone()
        return int(n)

    def fail_in_flight(self, reason: str = RESTART_REASON) -> list[str]:
        """Mark every run left in flight by a previous daemon as failed; returns their ids.

        Called once at start, before serving: such runs lost their worker with the old
        daemon, and re-running them silently could repeat side effects.
        """
        placeholders = ",".join("?" * len(IN_FLIGHT))
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    f"SELECT run_id FROM runs WHERE status IN ({placeholders})",  # noqa: S608
                    tuple(IN_FLIGHT),
                )
            ]
        for run_id in ids:
            self.finish(
                run_id,
                pb.RunOutcome(
                    status=pb.FAILED,
                    failure=pb.WORKER_DIED,
                    reason=reason,
                    ended_at=time.time(),
                ),
            )
        return ids

    def _write_result_file(self, run_id: str, data: bytes) -> str:
        run_dir = self._runs_dir / run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        final = run_dir / "result.pkl"
        tmp = run_dir / "result.pkl.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        return str(final)
