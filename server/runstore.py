"""Durable run records: one sqlite row per run, written before any RPC answers for it.

The database runs in WAL mode with synchronous=NORMAL: a commit survives the daemon being
killed (kill -9) at any point, which is the failure this store is for; a power loss may
lose the last commits. Results larger than INLINE_RESULT_LIMIT go to a file beside the
database (rhcli.server.result_files), so a crash never leaves a record pointing at half
a result. Records older than the retention are deleted with their files.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server import run_upkeep
from rhcli.server.result_files import checked_result_file, read_result_file, stored_form
from rhcli.server.run_logs import log_path
from rhcli.server.run_table import FINISH, INFO_COLUMNS, info_from_row, list_query, open_schema

FINISHED = frozenset({pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT})
IN_FLIGHT = frozenset({pb.QUEUED, pb.RUNNING})

RESTART_REASON = "the daemon stopped while this run was running; it was not run again"


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
        open_schema(self._db, db_path)
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

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, held for reads (for the store's companion modules: map_items)."""
        with self._lock:
            yield self._db

    @contextlib.contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one transaction, rolled back whole on error."""
        with self._lock, self._transaction():
            yield self._db

    def notify_recorded(self) -> None:
        """Wake log followers waiting for a run to be recorded."""
        with self._recorded:
            self._recorded.notify_all()

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
        args_summary: str = "",
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
                    "started_at, request, items, args_summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        function,
                        args_digest,
                        status,
                        now,
                        started,
                        request,
                        items,
                        args_summary or None,
                    ),
                )
            except sqlite3.IntegrityError:
                row = self._db.execute(
                    "SELECT function, args_digest FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
        if row is None:  # inserted
            self.notify_recorded()
            return True
        if row != (function, args_digest):
            raise DuplicateRunError(
                f"run id {run_id} exists already with a different function or arguments; "
                "a retry must send the same payload, a new call needs a new run id"
            )
        return False

    def mark_running(self, run_id: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, started_at = ?, request = NULL WHERE run_id = ?",
                (pb.RUNNING, time.time(), run_id),
            )

    def finish(
        self, run_id: str, outcome: pb.RunOutcome, *, result: bytes | memoryview | None = None
    ) -> None:
        """Store the outcome of a run and mark it ended; the outcome is complete on disk
        before the row says so. result: a large result kept outside the message (written
        to its file as it is, never copied into protobuf)."""
        row = self._outcome_row(run_id, outcome, result)
        with self._lock:  # one statement: in autocommit mode, its own transaction
            self._db.execute(FINISH, row)

    def finish_many(self, finished: Iterable[tuple[str, pb.RunOutcome]]) -> None:
        """Store many outcomes in one transaction: all of them, or (raising) none, and
        then no result file of theirs is left behind either (a full disk frees again)."""
        rows: list[tuple[object, ...]] = []
        try:
            for run_id, outcome in finished:
                rows.append(self._outcome_row(run_id, outcome))
            with self._lock:
                with self._transaction():
                    self._db.executemany(FINISH, rows)
        except BaseException:
            for row in rows:
                if row[6]:  # its result file: referenced by no committed row
                    Path(str(row[6])).unlink(missing_ok=True)
            raise

    def _outcome_row(
        self, run_id: str, outcome: pb.RunOutcome, result: bytes | memoryview | None = None
    ) -> tuple[object, ...]:
        stored, result_file, size = stored_form(self._runs_dir, run_id, outcome, result)
        ended_at = outcome.ended_at or time.time()
        started_at = outcome.started_at or None
        row = (outcome.status, outcome.failure, outcome.reason, started_at, ended_at)
        stored_bytes = stored.SerializeToString()
        return (*row, stored_bytes, result_file, size, outcome.worker or None, time.time(), run_id)

    # --- reading ------------------------------------------------------------------------

    def outcome(
        self, run_id: str, *, with_result: bool = True, max_inline: int | None = None
    ) -> pb.RunOutcome | None:
        """The stored outcome of a finished run; None while in flight or unknown.

        A result kept in a file is read back when with_result and it is at most
        max_inline bytes (None: any size); otherwise result_size says how large it is
        and the caller streams it with result_file(). Raises ResultLostError when the
        file is missing or not the size the row recorded (never a cut result).
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
                outcome.result = read_result_file(run_id, row[1], row[2])
            else:
                outcome.result_size = row[2]
        return outcome

    def log_path(self, run_id: str) -> Path:
        return log_path(self._runs_dir, run_id)

    def result_file(self, run_id: str) -> tuple[Path, int] | None:
        """The run's result file and its size, checked against its row; None when the run
        has none. Raises ResultLostError when the file is missing or cut."""
        with self._lock:
            row = self._db.execute(
                "SELECT result_file, result_size FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if not row or not row[0]:
            return None
        return checked_result_file(run_id, row[0], row[1]), row[1]

    def info(self, run_id: str) -> pb.RunInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {INFO_COLUMNS} FROM runs WHERE run_id = ?",  # noqa: S608
                (run_id,),
            ).fetchone()
            if row is None:
                return None
        return info_from_row(row)

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
        parent: str = "",
        stored_after: float = 0.0,
        since: float = 0.0,
    ) -> list[pb.RunInfo]:
        """Newest first; a map's items (parent) in index order. See run_table.list_query."""
        sql, params = list_query(
            limit=limit,
            function=function,
            include_items=include_items,
            statuses=statuses,
            parent=parent,
            stored_after=stored_after,
            since=since,
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [info_from_row(row) for row in rows]

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

    # --- recovery and retention (rhcli.server.run_upkeep) ------------------------------------

    @property
    def runs_dir(self) -> Path:
        return self._runs_dir

    def fail_running(self, reason: str = RESTART_REASON) -> list[str]:
        """Mark every run a previous daemon left running as failed; see run_upkeep."""
        return run_upkeep.fail_running(self, reason)

    def purge_older_than(self, seconds: float) -> int:
        """Delete finished runs that ended more than seconds ago; see run_upkeep."""
        return run_upkeep.purge_older_than(self, seconds)


def payload_digest(request: pb.CallRequest) -> str:
    """What makes two requests the same call (a retry of one run id must match it)."""
    fn = request.function
    digest = hashlib.sha256()
    parts = (
        fn.entrypoint.encode(),
        fn.pickled,
        fn.code_root.encode(),
        request.args,
        request.args_blob.encode(),
        b"q" if request.enqueue else b"",
    )
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()
