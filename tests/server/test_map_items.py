"""A map's rows in the run store (rhcli.server.map_items) and the store changes maps need:
attempts, re-armed items, digests checked before anything is written, unfinished items
failed in one statement, items kept as long as their map, no result file left behind by
a batch that could not be stored. A store on a temporary folder, no daemon."""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server import map_items
from rhcli.server.runstore import RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    yield opened
    opened.close()


def _start(map_id: str = "m", *, total: int = 4, resume: bool = False) -> pb.MapStart:
    return pb.MapStart(run_id=map_id, function=pb.FunctionRef(name="f"), total=total, resume=resume)


def _finish(store: RunStore, map_id: str, statuses: dict[int, int]) -> None:
    store.finish_many(
        (map_items.item_id(map_id, i), pb.RunOutcome(status=s, result=b"r" if s == 3 else b""))
        for i, s in statuses.items()
    )


def test_a_resume_rearms_failed_items_keeps_succeeded_ones_and_counts_an_attempt(
    store: RunStore,
) -> None:
    map_items.open_map(store, _start(), digest="d")
    map_items.record_items(store, "m", "f", range(4), ["a", "b", "c", "d"], resume=False)
    _finish(store, "m", {0: pb.SUCCEEDED, 1: pb.FAILED, 2: pb.SUCCEEDED, 3: pb.CANCELLED})

    assert map_items.open_map(store, _start(resume=True), digest="d") == 2
    done = map_items.record_items(store, "m", "f", range(4), ["a", "b", "c", "d"], resume=True)

    assert done == [0, 2]
    assert [store.status(f"m.{i}") for i in range(4)] == [3, 2, 3, 2]  # rearmed: running
    assert store.outcome("m.1") is None  # its old failure is gone
    info = store.info("m")
    assert info is not None and (info.attempts, info.items_succeeded, info.items) == (2, 2, 4)


def test_a_changed_item_refuses_the_whole_batch_and_writes_nothing(store: RunStore) -> None:
    map_items.open_map(store, _start(), digest="d")
    map_items.record_items(store, "m", "f", range(2), ["a", "b"], resume=False)
    _finish(store, "m", {0: pb.FAILED, 1: pb.FAILED})

    with pytest.raises(map_items.MapRefused, match="item 1 of map m") as refused:
        map_items.record_items(store, "m", "f", [0, 1, 2], ["a", "X", "c"], resume=True)

    assert refused.value.changed_input
    assert [store.status(f"m.{i}") for i in range(3)] == [pb.FAILED, pb.FAILED, None]


def test_a_map_is_not_opened_twice_nor_resumed_as_another_function_or_length(
    store: RunStore,
) -> None:
    map_items.open_map(store, _start(), digest="d")
    with pytest.raises(map_items.MapRefused, match="exists already"):
        map_items.open_map(store, _start(), digest="d")
    other = _start(resume=True)
    other.function.name = "g"
    with pytest.raises(map_items.MapRefused, match="not a map of g"):
        map_items.open_map(store, other, digest="d")
    with pytest.raises(map_items.MapRefused, match="has 4 items, this input has 5"):
        map_items.open_map(store, _start(total=5, resume=True), digest="d")
    with pytest.raises(map_items.MapRefused, match="not a valid map id"):
        map_items.open_map(store, _start("../x"), digest="d")


def test_a_resume_of_a_map_the_store_never_saw_starts_it_at_the_clients_attempt(
    store: RunStore,
) -> None:
    start = _start(resume=True)
    start.attempt = 3
    assert map_items.open_map(store, start, digest="d") == 3


def test_unfinished_items_are_failed_in_one_statement_and_finished_ones_kept(
    store: RunStore,
) -> None:
    map_items.open_map(store, _start(), digest="d")
    map_items.record_items(store, "m", "f", range(3), ["a", "b", "c"], resume=False)
    _finish(store, "m", {1: pb.SUCCEEDED})
    not_run = pb.RunOutcome(status=pb.FAILED, failure=pb.INTERNAL, reason="the map stopped")

    assert map_items.fail_unfinished(store, "m", not_run) == 2

    assert [store.status(f"m.{i}") for i in range(3)] == [pb.FAILED, pb.SUCCEEDED, pb.FAILED]
    assert store.outcome("m.0").reason == "the map stopped"  # type: ignore[union-attr]
    assert map_items.item_counts(store, "m") == (1, 3)


def test_item_states_page_through_every_item_with_its_digest(store: RunStore) -> None:
    map_items.open_map(store, _start(total=5), digest="d")
    map_items.record_items(store, "m", "f", range(5), list("abcde"), resume=False)
    pages = list(map_items.item_states(store, "m", page=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [(row[0], row[1]) for page in pages for row in page] == list(enumerate("abcde"))


def test_a_batch_that_cannot_be_stored_leaves_no_result_file(
    store: RunStore, tmp_path: Path
) -> None:
    map_items.open_map(store, _start(), digest="d")
    map_items.record_items(store, "m", "f", range(2), ["a", "b"], resume=False)
    big = pb.RunOutcome(status=pb.SUCCEEDED, result=b"x" * (1024 * 1024))

    def outcomes() -> Iterator[tuple[str, pb.RunOutcome]]:
        yield "m.0", big  # its result file is written first...
        raise OSError(errno.ENOSPC, "No space left on device")  # ...then the disk is full

    with pytest.raises(OSError):
        store.finish_many(outcomes())
    assert not (tmp_path / "runs" / "m.0" / "result.pkl").exists()
    assert store.status("m.0") == pb.RUNNING


def test_an_item_whose_result_file_was_cut_runs_again_in_a_resume_and_is_never_sent_short(
    store: RunStore,
) -> None:
    """Result files are not fsynced (a power loss may cut one): the row's recorded size
    is checked, so the resume reruns such an item and MapState reports it failed."""
    from rhcli.server.map_state import map_state_batches

    map_items.open_map(store, _start(total=2), digest="d")
    map_items.record_items(store, "m", "f", range(2), ["a", "b"], resume=False)
    big = pb.RunOutcome(status=pb.SUCCEEDED, result=b"x" * (1024 * 1024))
    store.finish_many([("m.0", big), ("m.1", big)])
    cut = store.runs_dir / "m.1" / "result.pkl"
    cut.write_bytes(cut.read_bytes()[:1000])

    info = store.info("m")
    assert info is not None
    states = [item for batch in map_state_batches(store, info, b"") for item in batch.items]
    assert [s.outcome.status for s in states] == [pb.SUCCEEDED, pb.FAILED]
    assert states[0].outcome.result == b"x" * (1024 * 1024)  # whole, inline
    assert "m.1 succeeded but its result was lost" in states[1].outcome.reason
    assert not states[1].outcome.result

    map_items.open_map(store, _start(total=2, resume=True), digest="d")
    done = map_items.record_items(store, "m", "f", range(2), ["a", "b"], resume=True)
    assert done == [0]
    assert store.status("m.1") == pb.RUNNING  # re-armed: it runs again


def test_retention_deletes_a_maps_items_with_the_map_never_before_it(store: RunStore) -> None:
    map_items.open_map(store, _start(total=2), digest="d")
    map_items.record_items(store, "m", "f", range(2), ["a", "b"], resume=False)
    long_ago = time.time() - 100
    store.finish_many(
        (f"m.{i}", pb.RunOutcome(status=pb.SUCCEEDED, ended_at=long_ago)) for i in range(2)
    )
    store.finish("m", pb.RunOutcome(status=pb.SUCCEEDED))  # its last attempt: just now

    assert store.purge_older_than(10) == 0  # the items are old, their map is not
    store.finish("m", pb.RunOutcome(status=pb.SUCCEEDED, ended_at=long_ago))
    assert store.purge_older_than(10) == 3
    assert store.info("m.0") is None


def test_a_store_of_the_previous_schema_gains_attempts_in_place(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "runs.sqlite")
    db.executescript(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, function TEXT NOT NULL, "
        "args_digest TEXT NOT NULL, status INTEGER NOT NULL, failure INTEGER NOT NULL "
        "DEFAULT 0, reason TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, started_at "
        "REAL, ended_at REAL, parent TEXT, items INTEGER NOT NULL DEFAULT 0, request BLOB, "
        "outcome BLOB, result_file TEXT, result_size INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO runs (run_id, function, args_digest, status, created_at, items) "
        "VALUES ('old-map', 'f', 'd', 3, 1.0, 2); PRAGMA user_version=2;"
    )
    db.close()
    migrated = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    try:
        info = migrated.info("old-map")
        assert info is not None and info.attempts == 1 and info.items == 2
    finally:
        migrated.close()
