"""The runs table: its schema, the columns a RunInfo is read from, and the listing query.

The store (rhcli.server.runstore) owns the connection and its locking; this module holds
the SQL, so the table's layout is read in one place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rhcli.protocol import daemon_pb2 as pb

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
    result_size INTEGER NOT NULL DEFAULT 0,
    worker      TEXT,
    stored_at   REAL,
    args_summary TEXT,
    attempts    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS runs_by_created ON runs (created_at);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent);
"""

# Columns added to schema 2 after it shipped. Each is nullable or has a default and is read
# by name, so a store with them still opens in a daemon that predates them, and one without
# them gains them here: no new schema version, nothing refused. (name, SQL type)
_ADDED_COLUMNS = (
    ("worker", "TEXT"),
    ("stored_at", "REAL"),
    ("args_summary", "TEXT"),
    ("attempts", "INTEGER NOT NULL DEFAULT 1"),  # a map's runs: 1, then one per resume
)

# A map's row also counts its items that ended without succeeding (failed, cancelled,
# timed out; items still running are not failures) and those that succeeded.
INFO_COLUMNS = (
    "run_id, function, status, failure, reason, created_at, started_at, ended_at, parent, "
    "items, (SELECT COUNT(*) FROM runs AS item WHERE item.parent = runs.run_id "
    "AND item.status IN (4, 5, 6)), worker, stored_at, args_summary, attempts, "
    "(SELECT COUNT(*) FROM runs AS item WHERE item.parent = runs.run_id AND item.status = 3)"
)
assert (pb.SUCCEEDED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT) == (3, 4, 5, 6)  # as above

FINISH = (
    "UPDATE runs SET status = ?, failure = ?, reason = ?, "
    "started_at = COALESCE(?, started_at), ended_at = ?, outcome = ?, "
    "result_file = ?, result_size = ?, worker = ?, stored_at = ?, request = NULL "
    "WHERE run_id = ?"
)


def open_schema(db: sqlite3.Connection, db_path: Path) -> None:
    """Create the table, or check an existing one's version and add missing columns.

    Raises RuntimeError for a store written by another schema version: it is refused
    with a message, never misread.
    """
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version not in (0, SCHEMA_VERSION):
        raise RuntimeError(
            f"{db_path} was written by another rhcli (schema {version}, this one reads "
            f"{SCHEMA_VERSION}); move it aside to start afresh"
        )
    db.executescript(_SCHEMA)
    present = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def list_query(
    *,
    limit: int,
    function: str,
    include_items: bool,
    statuses: Iterable[int],
    parent: str = "",
    stored_after: float = 0.0,
    since: float = 0.0,
) -> tuple[str, list[object]]:
    """The SELECT (newest first) and its parameters for ListRuns' filters.

    parent: only that map's items (in index order, so a page of them is the first ones);
    stored_after > 0: only runs whose outcome was stored at or after that time;
    since > 0: only runs created at or after that time (unix seconds).
    """
    where: list[str] = []
    params: list[object] = []
    if since > 0:
        where.append("created_at >= ?")
        params.append(since)
    if function:
        where.append("function = ?")
        params.append(function)
    if parent:
        where.append("parent = ?")
        params.append(parent)
    elif not include_items:
        where.append("parent IS NULL")
    wanted = list(statuses)
    if wanted:
        where.append(f"status IN ({','.join('?' * len(wanted))})")
        params.extend(wanted)
    if stored_after > 0:
        where.append("stored_at >= ?")
        params.append(stored_after)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    # A map's items by index (the number after "MAP_ID."): not rowid, since a resume
    # records the items an earlier attempt never reached after the others.
    order = "CAST(substr(run_id, length(parent) + 2) AS INTEGER)" if parent else "created_at DESC"
    sql = f"SELECT {INFO_COLUMNS} FROM runs {clause} ORDER BY {order} LIMIT ?"  # noqa: S608
    return sql, [*params, limit or 50]


def info_from_row(row: Any) -> pb.RunInfo:
    """A RunInfo from a row of INFO_COLUMNS."""
    (run_id, function, status, failure, reason, created, started, ended, parent, items, bad,
     worker, stored, summary, attempts, good) = row  # fmt: skip
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
        worker=str(worker or ""),
        stored_at=float(stored or 0.0),
        args_summary=str(summary or ""),
        attempts=int(attempts) if items else 0,
        items_succeeded=int(good),
    )
