"""The runs table's later columns (worker, stored_at, args_summary) and the listing of one
map's items, through the real store on a real sqlite file."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.map_items import record_items
from rhcli.server.runstore import RunStore

OLD_SCHEMA_2 = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, function TEXT NOT NULL, args_digest TEXT NOT NULL,
    status INTEGER NOT NULL, failure INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, started_at REAL,
    ended_at REAL, parent TEXT, items INTEGER NOT NULL DEFAULT 0, request BLOB,
    outcome BLOB, result_file TEXT, result_size INTEGER NOT NULL DEFAULT 0
);
PRAGMA user_version=2;
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    found = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    yield found
    found.close()


def _ended(worker: str = "") -> pb.RunOutcome:
    now = time.time()
    return pb.RunOutcome(status=pb.SUCCEEDED, started_at=now - 0.1, ended_at=now, worker=worker)


def test_an_outcome_keeps_the_worker_that_ran_it(store: RunStore) -> None:
    store.create(run_id="r1", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("r1", _ended("10.0.0.5:4242"))
    info = store.info("r1")
    assert info is not None
    assert info.worker == "10.0.0.5:4242"
    assert info.stored_at > 0
    assert store.outcome("r1").worker == "10.0.0.5:4242"  # type: ignore[union-attr]


def test_a_run_keeps_its_arguments_summary(store: RunStore) -> None:
    store.create(
        run_id="r1", function="f", args_digest="d", status=pb.RUNNING, args_summary="'A dog.', 50"
    )
    assert store.info("r1").args_summary == "'A dog.', 50"  # type: ignore[union-attr]


def test_a_maps_items_are_listed_in_index_order_whatever_order_they_were_recorded_in(
    store: RunStore,
) -> None:
    store.create(run_id="m", function="f", args_digest="d", status=pb.RUNNING, items=12)
    record_items(store, "m", "f", range(10, 12), ["d10", "d11"], resume=False)
    record_items(store, "m", "f", range(10), [f"d{i}" for i in range(10)], resume=True)
    store.create(run_id="other", function="f", args_digest="d", status=pb.RUNNING)
    found = store.list_runs(parent="m", limit=100)
    assert [r.run_id for r in found] == [f"m.{i}" for i in range(12)]


def test_stored_after_gives_only_what_was_stored_since(store: RunStore) -> None:
    store.create(run_id="m", function="f", args_digest="d", status=pb.RUNNING, items=4)
    record_items(store, "m", "f", range(4), ["a", "b", "c", "d"], resume=False)
    store.finish_many([("m.0", _ended()), ("m.2", _ended())])
    first = store.list_runs(parent="m", limit=100)
    cursor = max(r.stored_at for r in first)
    time.sleep(0.01)
    # An item that ended long before it was stored (a chunk ends all at once) is still new.
    late = pb.RunOutcome(status=pb.FAILED, started_at=1.0, ended_at=2.0, reason="bad")
    store.finish_many([("m.3", late)])
    since = store.list_runs(parent="m", limit=100, stored_after=cursor)
    assert {r.run_id for r in since} >= {"m.3"}
    assert "m.1" not in {r.run_id for r in since}  # still running: nothing stored
    assert all(r.stored_at >= cursor for r in since)


def test_a_store_of_the_first_schema_2_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    old = sqlite3.connect(db)
    old.executescript(OLD_SCHEMA_2)
    old.execute(
        "INSERT INTO runs (run_id, function, args_digest, status, created_at) "
        "VALUES ('old', 'f', 'd', 3, 1.0)"
    )
    old.commit()
    old.close()
    store = RunStore(db, tmp_path / "runs")
    try:
        info = store.info("old")
        assert info is not None and info.worker == "" and info.args_summary == ""
        store.create(run_id="new", function="f", args_digest="d", status=pb.RUNNING)
        store.finish("new", _ended("w:1"))
        assert store.info("new").worker == "w:1"  # type: ignore[union-attr]
    finally:
        store.close()
