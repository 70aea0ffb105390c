"""Durable run records: one sqlite row per run, written before any RPC answers for it.

The database runs in WAL mode with synchronous=NORMAL: a commit survives the daemon being
killed (kill -9) at any point, which is the failure this store is for; a power loss may
lose the last commits. Results larger than INLINE_RESULT_LIMIT go to a file beside the
database (rhcli.server.result_files), so a crash never leaves a record pointing at half
a result. Records older than the retention are deleted with their files.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.result_files import stored_form
from rhcli.server.run_logs import append_end, log_path

SCHEMA_VERSION = 2

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
    parent      TEXT,
    items       INTEGER NOT NULL DEFAULT 0,
    request     BLOB,
    outcome     BLOB,
    result_file TEXT,
    result_size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent);
"""

FINISHED = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT})
IN_FLIGHT = frozenset({pb.QUEUED, pb.RUNNING})

RESTART_REASON = "the daemon stopped while this run was running; it was not run again"

# A map's row also counts its items that ended without succeeding (failed, cancelled,
# timed out); items still running are not failures.
_INFO_COLUMNS = (
    "run_id, function, status, failure, reason, created_at, started_at, ended_at, parent, "
    "items, (SELECT COUNT(*) FROM runs AS item WHERE item.parent = runs.run_id "
    "AND item.status IN (4, 5, 6))"
)
assert (pb.FAILED, pb.CANCELLED, pb.TIMED_OUT) == (4, 5, 6)  # the literals above


_FINISH = (
    "UPDATE runs SET status = ?, failure = ?, reason = ?, "
    "started_at = COALESCE(?, started_at), ended_at = ?, outcome = ?, "
    "result_file = ?, result_size = ?, request = NULL WHERE run_id = ?"
)


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
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        if version not in (0, SCHEMA_VERSION):
            raise RuntimeError(
                f"{db_path} was written by another rhcli (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); move it aside to start afresh"
            )
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._lock = threading.Lock()
        # Notified when a run is recorded: a log follower can arrive before its call.
        self._recorded = threading.Condition()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction, rolled back when anything in it fails (a full disk), so the
        connection never stays inside a dead transaction and the next write can work."""
        self._db.execute("BEGIN")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ------------------------------------------------------------------------

    def create(
        self,
        *,
        run_id: str,
        function: str,
        args_digest: str,
        status: int,
        request: bytes | None = None,
        items: int = 0,
    ) -> bool:
        """Record a new run; returns False when run_id exists with the same payload.

        request is kept for queued runs, so a restarted daemon can still run them.
        Raises DuplicateRunError when run_id exists with a different payload: a client
        retry must never turn into a second, different run.
        """
        now = time.time()
        started = now if status == pb.RUNNING else None
        row: Any = None
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO runs (run_id, function, args_digest, status, created_at, "
                    "started_at, request, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, function, args_digest, status, now, started, request, items),
                )
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT function, args_digest FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
        if row is None:  # inserted
            with self._recorded:
                self._recorded.notify_all()
            return True
        if row != (function, args_digest):
            raise DuplicateRunError(
                f"run id {run_id} exists already with a different function or arguments; "
                "a retry must send the same payload, a new call needs a new run id"
            )
        return False

    def create_items(
        self, parent: str, function: str, first_index: int, digests: list[str]
    ) -> None:
        """Record a batch of map items (running) in one transaction."""
        now = time.time()
        rows = [
            (f"{parent}.{first_index + i}", function, digest, pb.RUNNING, now, now, parent)
            for i, digest in enumerate(digests)
        ]
        with self._lock:
            with self._transaction():
                self._db.executemany(
                    "INSERT OR IGNORE INTO runs (run_id, function, args_digest, status, "
                    "created_at, started_at, parent) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def mark_running(self, run_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, started_at = ?, request = NULL WHERE run_id = ?",
                (pb.RUNNING, time.time(), run_id),
            )

    def set_items(self, run_id: str, items: int) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET items = ? WHERE run_id = ?", (items, run_id))

    def finish(self, run_id: str, outcome: pb.RunOutcome, *, result: bytes | None = None) -> None:
        """Store the outcome of a run and mark it ended; the outcome is complete on disk
        before the row says so.

        result, when given, is the run's result kept outside the message (a large one:
        written to its file as it is, never copied into protobuf).
        """
        row = self._outcome_row(run_id, outcome, result)
        with self._lock:  # one statement: in autocommit mode, its own transaction
            self._db.execute(_FINISH, row)

    def finish_many(self, finished: Iterable[tuple[str, pb.RunOutcome]]) -> None:
        self._write_rows([self._outcome_row(run_id, outcome) for run_id, outcome in finished])

    def _write_rows(self, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            with self._transaction():
                self._db.executemany(_FINISH, rows)

    def _outcome_row(
        self, run_id: str, outcome: pb.RunOutcome, result: bytes | None = None
    ) -> tuple[object, ...]:
        stored, result_file, size = stored_form(self._runs_dir, run_id, outcome, result)
        return (
            outcome.status,
            outcome.failure,
            outcome.reason,
            outcome.started_at or None,
            outcome.ended_at or time.time(),
            stored.SerializeToString(),
            result_file,
            size,
            run_id,
        )

    # --- reading ------------------------------------------------------------------------

    def outcome(
        self, run_id: str, *, with_result: bool = True, max_inline: int | None = None
    ) -> pb.RunOutcome | None:
        """The stored outcome of a finished run; None while in flight or unknown.

        A result kept in a file is read back when with_result and it is at most
        max_inline bytes (None: any size); otherwise result_size says how large it is
        and the caller streams it with result_path().
        """
        with self._lock:
            row = self._db.execute(
                "SELECT outcome, result_file, result_size FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        if row is None or row[0] is None:
            return None
        outcome: pb.RunOutcome = pb.RunOutcome.FromString(row[0])
        if row[1]:
            if with_result and (max_inline is None or row[2] <= max_inline):
                outcome.result = Path(row[1]).read_bytes()
            else:
                outcome.result_size = row[2]
        return outcome

    def log_path(self, run_id: str) -> Path:
        return log_path(self._runs_dir, run_id)

    def result_path(self, run_id: str) -> Path | None:
        with self._lock:
            row = self._db.execute(
                "SELECT result_file FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        return Path(row[0]) if row and row[0] else None

    def info(self, run_id: str) -> pb.RunInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_INFO_COLUMNS} FROM runs WHERE run_id = ?",  # noqa: S608
                (run_id,),
            ).fetchone()
            if row is None:
                return None
        return _info(row)

    def wait_for_record(
        self, run_id: str, timeout: float, *, gone: Callable[[], bool] = lambda: False
    ) -> bool:
        """True once run_id has a record; False after timeout seconds or once gone()."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while self.status(run_id) is None:
                left = deadline - time.monotonic()
                if left <= 0 or gone():
                    return False
                self._recorded.wait(min(left, 0.1))  # gone() is checked at least this often
        return True

    def status(self, run_id: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return int(row[0]) if row else None

    def list_runs(
        self,
        *,
        limit: int = 50,
        function: str = "",
        include_items: bool = False,
        statuses: Iterable[int] = (),
        since: float = 0.0,
    ) -> list[pb.RunInfo]:
        """Newest first; since (unix seconds, 0: any) keeps runs created at or after it."""
        where: list[str] = ["created_at >= ?"]
        params: list[object] = [since]
        if function:
            where.append("function = ?")
            params.append(function)
        if not include_items:
            where.append("parent IS NULL")
        wanted = list(statuses)
        if wanted:
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            params.extend(wanted)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_INFO_COLUMNS} FROM runs WHERE {' AND '.join(where)} "  # noqa: S608
                "ORDER BY created_at DESC LIMIT ?",
                (*params, limit or 50),
            ).fetchall()
        return [_info(row) for row in rows]

    def count(self, status: int) -> int:
        with self._lock:
            (n,) = self._db.execute(
                "SELECT COUNT(*) FROM runs WHERE status = ? AND parent IS NULL", (status,)
            ).fetchone()
        return int(n)

    def queued_requests(self) -> list[bytes]:
        """The requests of queued runs, oldest first (to requeue them after a restart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT request FROM runs WHERE status = ? AND request IS NOT NULL "
                "ORDER BY created_at, rowid",
                (pb.QUEUED,),
            ).fetchall()
        return [row[0] for row in rows]

    # --- recovery and retention -----------------------------------------------------------

    def fail_running(self, reason: str = RESTART_REASON) -> list[str]:
        """Mark every run a previous daemon left running as failed; returns their ids.

        Called once at start, before serving: such runs lost their worker with the old
        daemon, and re-running them silently could repeat side effects. Queued runs never
        started, so they stay queued and run in order (see queued_requests).
        """
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT run_id FROM runs WHERE status = ? OR (status = ? AND request IS NULL)",
                    (pb.RUNNING, pb.QUEUED),
                )
            ]
        now = time.time()
        self.finish_many(
            (
                run_id,
                pb.RunOutcome(
                    status=pb.FAILED, failure=pb.WORKER_DIED, reason=reason, ended_at=now
                ),
            )
            for run_id in ids
        )
        for run_id in ids:
            append_end(self.log_path(run_id), "failed")
        return ids

    def purge_older_than(self, seconds: float) -> int:
        """Delete finished runs that ended more than seconds ago, with their files."""
        cutoff = time.time() - seconds
        finished = tuple(FINISHED)
        marks = ",".join("?" * len(finished))
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    f"SELECT run_id FROM runs WHERE ended_at < ? AND status IN ({marks})",  # noqa: S608
                    (cutoff, *finished),
                )
            ]
        # Files first, rows last: a daemon stopped midway leaves rows that the next purge
        # finds again, never folders that nothing points at.
        for run_id in ids:
            shutil.rmtree(self._runs_dir / run_id, ignore_errors=True)
        with self._lock:
            with self._transaction():
                self._db.executemany("DELETE FROM runs WHERE run_id = ?", [(i,) for i in ids])
        return len(ids)


def _info(row: Any) -> pb.RunInfo:
    run_id, function, status, failure, reason, created, started, ended, parent, items, bad = row
    return pb.RunInfo(
        run_id=str(run_id),
        function=str(function),
        status=int(status),  # type: ignore[arg-type]
        failure=int(failure),  # type: ignore[arg-type]
        reason=str(reason),
        created_at=float(created),
        started_at=float(started or 0.0),
        ended_at=float(ended or 0.0),
        parent=str(parent or ""),
        items=int(items),
        items_failed=int(bad),
    )
