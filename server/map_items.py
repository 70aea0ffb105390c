"""A map's rows in the run store: the map's own record across its attempts, and its items.

A map is one row (parent NULL, items = how many it has) and one row per item it was sent
(`<map id>.<index>`, parent = the map id, args_digest = SHA-256 of the item's pickle).
Functions here work through RunStore.reading()/writing(), one transaction per batch.

Resuming keeps every item that succeeded and runs the others again under the same ids:
an item is re-armed (running, outcome cleared) only when its digest is the stored one,
so a changed input is refused before anything of the batch is written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rhcli.protocol import daemon_pb2 as pb
from rhcli.protocol.wire import MAP_ID_PATTERN
from rhcli.server.result_files import result_intact

if TYPE_CHECKING:
    from rhcli.server.runstore import RunStore

MAP_ID = re.compile(MAP_ID_PATTERN)

# sqlite binds at most 32,766 values per statement; item ids go in pages well below it.
_PAGE = 900

_INSERT = (
    "INSERT INTO runs (run_id, function, args_digest, status, created_at, started_at, parent) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_REARM = (
    "UPDATE runs SET status = ?, failure = 0, reason = '', started_at = ?, ended_at = NULL, "
    "outcome = NULL, result_file = NULL, result_size = 0 WHERE run_id = ?"
)


class MapRefused(Exception):
    """A map that cannot start as asked (an unknown, busy or different map, a changed
    item); the message says what and what to do. Nothing was written."""

    def __init__(self, message: str, *, changed_input: bool = False) -> None:
        super().__init__(message)
        self.changed_input = changed_input


def item_id(map_id: str, index: int) -> str:
    return f"{map_id}.{index}"


def open_map(store: RunStore, start: pb.MapStart, *, digest: str) -> int:
    """Record the map as running: a new one, or (start.resume) the next attempt of the
    one with this id; returns the attempt number. Raises MapRefused.

    A resume of a map this store does not know (its cluster lost its disk) starts it
    afresh under its id, at the attempt the client counts.
    """
    map_id = start.run_id
    if not MAP_ID.fullmatch(map_id):
        raise MapRefused(
            f"{map_id!r} is not a valid map id: letters, digits, '-' and '_', at most 100"
        )
    now = time.time()
    with store.writing() as db:
        row = db.execute(
            "SELECT function, items, attempts, parent FROM runs WHERE run_id = ?", (map_id,)
        ).fetchone()
        if row is None:
            attempt = max(1, start.attempt) if start.resume else 1
            db.execute(
                "INSERT INTO runs (run_id, function, args_digest, status, created_at, "
                "started_at, items, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (map_id, start.function.name, digest, pb.RUNNING, now, now, start.total, attempt),
            )
        else:
            function, items, attempts, parent = row
            if not start.resume:
                raise MapRefused(
                    f"map {map_id} exists already; resume it (resume=) or start a new one"
                )
            if parent is not None or function != start.function.name:
                raise MapRefused(
                    f"run {map_id} is not a map of {start.function.name} (it ran {function}); "
                    "resume a map with the function it ran"
                )
            if start.total and items and start.total != items:
                raise MapRefused(
                    f"map {map_id} has {items} items, this input has {start.total}: a resume "
                    "needs the same inputs in the same order (start a new map for others)",
                    changed_input=True,
                )
            attempt = max(int(attempts) + 1, start.attempt)
            db.execute(
                "UPDATE runs SET status = ?, failure = 0, reason = '', started_at = ?, "
                "ended_at = NULL, outcome = NULL, items = MAX(items, ?), attempts = ? "
                "WHERE run_id = ?",
                (pb.RUNNING, now, start.total, attempt, map_id),
            )
    store.notify_recorded()
    return attempt


def record_items(
    store: RunStore,
    map_id: str,
    function: str,
    indices: Sequence[int],
    digests: Sequence[str],
    *,
    resume: bool,
) -> list[int]:
    """Record a batch of items as running, in one transaction; returns the indices that
    succeeded before (a resume: they are not to run again, their outcome is stored). An
    item that succeeded but whose result file was lost since (not fsynced: a power loss)
    runs again, like one that failed.

    On a resume an item whose stored digest differs from its new one refuses the whole
    batch (MapRefused naming the first such index; nothing written). A new map's items
    are plain inserts: an index sent twice fails the batch (sqlite's IntegrityError).
    """
    now = time.time()
    ids = [item_id(map_id, i) for i in indices]
    with store.writing() as db:
        if not resume:
            pairs = zip(ids, digests, strict=True)
            rows = [(i, function, d, pb.RUNNING, now, now, map_id) for i, d in pairs]
            db.executemany(_INSERT, rows)
            return []
        stored: dict[str, tuple[str, int, bool]] = {}
        for offset in range(0, len(ids), _PAGE):
            page = ids[offset : offset + _PAGE]
            marks = ",".join("?" * len(page))
            columns = "run_id, args_digest, status, result_file, result_size"
            query = f"SELECT {columns} FROM runs WHERE run_id IN ({marks})"  # noqa: S608
            for run_id, digest, status, result_file, size in db.execute(query, page):
                intact = not result_file or result_intact(result_file, size)
                stored[run_id] = (digest, status, intact)
        done: list[int] = []
        fresh, rearm = [], []
        for index, run_id, digest in zip(indices, ids, digests, strict=True):
            found = stored.get(run_id)
            if found is None:
                fresh.append((run_id, function, digest, pb.RUNNING, now, now, map_id))
            elif found[0] != digest:
                raise MapRefused(
                    f"item {index} of map {map_id} is not the input the map ran (its "
                    "arguments' digest differs): a resume needs the same inputs in the "
                    "same order; start a new map for changed inputs",
                    changed_input=True,
                )
            elif found[1] == pb.SUCCEEDED and found[2]:
                done.append(index)
            else:
                rearm.append((pb.RUNNING, now, run_id))
        db.executemany(_INSERT, fresh)
        db.executemany(_REARM, rearm)
    return done


def fail_unfinished(store: RunStore, map_id: str, outcome: pb.RunOutcome) -> int:
    """Give every item of the map still without an outcome (recorded, never run or never
    stored) this failed outcome; returns how many. One statement, one transaction."""
    with store.writing() as db:
        cursor = db.execute(
            "UPDATE runs SET status = ?, failure = ?, reason = ?, ended_at = ?, outcome = ? "
            "WHERE parent = ? AND status IN (?, ?)",
            (
                outcome.status,
                outcome.failure,
                outcome.reason,
                outcome.ended_at or time.time(),
                outcome.SerializeToString(),
                map_id,
                pb.QUEUED,
                pb.RUNNING,
            ),
        )
        return int(cursor.rowcount)


def item_counts(store: RunStore, map_id: str) -> tuple[int, int]:
    """(items that succeeded, items recorded in all) of the map."""
    with store.reading() as db:
        succeeded, recorded = db.execute(
            "SELECT COALESCE(SUM(status = ?), 0), COUNT(*) FROM runs WHERE parent = ?",
            (pb.SUCCEEDED, map_id),
        ).fetchone()
    return int(succeeded), int(recorded)


def item_states(
    store: RunStore, map_id: str, *, page: int = 1000
) -> Iterator[list[tuple[int, str, int, bytes | None, str | None, int]]]:
    """Every item row of the map, in pages: (index, args digest, status, stored outcome,
    result file, its recorded size). The store's lock is held per page only, so runs go
    on meanwhile."""
    after = 0
    while True:
        with store.reading() as db:
            rows = db.execute(
                "SELECT rowid, run_id, args_digest, status, outcome, result_file, result_size "
                "FROM runs "
                "WHERE parent = ? AND rowid > ? ORDER BY rowid LIMIT ?",
                (map_id, after, page),
            ).fetchall()
        if not rows:
            return
        after = rows[-1][0]
        yield [
            (int(run_id.rsplit(".", 1)[1]), digest, int(status), outcome, result_file, size)
            for _, run_id, digest, status, outcome, result_file, size in rows
        ]
