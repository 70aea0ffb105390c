"""The run store's upkeep: settling what a dead daemon left running, and retention.

Functions over a RunStore (through its reading/writing accessors), kept apart from the
store's everyday reads and writes.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.run_logs import append_end

if TYPE_CHECKING:
    from rhcli.server.runstore import RunStore

_FINISHED = (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT)


def fail_running(store: RunStore, reason: str) -> list[str]:
    """Mark every run a previous daemon left running as failed; returns their ids.

    Called once at start, before serving: such runs lost their worker with the old
    daemon, and re-running them silently could repeat side effects. Queued runs never
    started, so they stay queued and run in order (see RunStore.queued_requests). A map
    left running is failed with its unfinished items; it can be resumed.
    """
    with store.reading() as db:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT run_id FROM runs WHERE status = ? OR (status = ? AND request IS NULL)",
                (pb.RUNNING, pb.QUEUED),
            )
        ]
    now = time.time()
    store.finish_many(
        (
            run_id,
            pb.RunOutcome(status=pb.FAILED, failure=pb.WORKER_DIED, reason=reason, ended_at=now),
        )
        for run_id in ids
    )
    for run_id in ids:
        append_end(store.log_path(run_id), "failed")
    return ids


def purge_older_than(store: RunStore, seconds: float) -> int:
    """Delete finished runs that ended more than seconds ago, with their files; returns
    how many runs went.

    A map's items go with their map, never before it: a resumed map keeps the items
    that succeeded in an earlier attempt, however old, for as long as the map is kept
    (its end moves with each attempt).
    """
    cutoff = time.time() - seconds
    marks = ",".join("?" * len(_FINISHED))
    with store.reading() as db:
        ids = [
            r[0]
            for r in db.execute(
                f"SELECT run_id FROM runs WHERE ended_at < ? AND status IN ({marks}) "  # noqa: S608
                "AND parent IS NULL",
                (cutoff, *_FINISHED),
            )
        ]
        items = [
            r[0]
            for run_id in ids
            for r in db.execute("SELECT run_id FROM runs WHERE parent = ?", (run_id,))
        ]
    # Files first, rows last: a daemon stopped midway leaves rows that the next purge
    # finds again, never folders that nothing points at.
    for run_id in (*items, *ids):
        shutil.rmtree(store.runs_dir / run_id, ignore_errors=True)
    with store.writing() as db:
        db.executemany("DELETE FROM runs WHERE run_id = ?", [(i,) for i in (*items, *ids)])
    return len(ids) + len(items)
