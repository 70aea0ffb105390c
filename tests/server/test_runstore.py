"""RunStore: one durable sqlite row per run, outcomes stored whole, retries never re-run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.result_files import INLINE_RESULT_LIMIT
from rhcli.server.runstore import RESTART_REASON, DuplicateRunError, RunStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    store = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    yield store
    store.close()


def _succeeded(result: bytes = b"result", **fields: object) -> pb.RunOutcome:
    return pb.RunOutcome(status=pb.SUCCEEDED, result=result, started_at=1.0, **fields)


def test_a_new_run_is_recorded_as_given(store: RunStore) -> None:
    assert store.create(run_id="r1", function="mod:fn", args_digest="d1", status=pb.RUNNING)
    record = store.info("r1")
    assert record is not None
    assert (record.run_id, record.function) == ("r1", "mod:fn")
    assert record.status == pb.RUNNING
    assert record.started_at >= record.created_at > 0
    assert record.ended_at == 0.0  # unset: not ended
    # The digest is kept: the same payload again is a retry, not a new run.
    assert not store.create(run_id="r1", function="mod:fn", args_digest="d1", status=pb.RUNNING)


def test_a_queued_run_has_no_start_time(store: RunStore) -> None:
    store.create(run_id="q1", function="mod:fn", args_digest="d", status=pb.QUEUED)
    record = store.info("q1")
    assert record is not None and record.status == pb.QUEUED and record.started_at == 0.0


def test_a_run_in_flight_has_no_outcome(store: RunStore) -> None:
    store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)
    assert store.outcome("r1") is None


def test_an_unknown_run_has_no_record_and_no_outcome(store: RunStore) -> None:
    assert store.info("nope") is None
    assert store.outcome("nope") is None


def test_finish_stores_the_outcome_and_ends_the_run(store: RunStore) -> None:
    store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)
    store.finish("r1", _succeeded(result_json="[1]"))
    outcome = store.outcome("r1")
    assert outcome is not None
    assert outcome.status == pb.SUCCEEDED
    assert outcome.result == b"result"
    assert outcome.result_json == "[1]"
    record = store.info("r1")
    assert record is not None
    assert record.status == pb.SUCCEEDED
    assert record.started_at == 1.0
    assert record.ended_at is not None


def test_a_failure_keeps_its_kind_reason_and_remote_exception(store: RunStore) -> None:
    store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)
    error = pb.RemoteException(type_name="builtins.ValueError", message="bad", traceback="tb")
    store.finish(
        "r1",
        pb.RunOutcome(status=pb.FAILED, failure=pb.RAISED, reason="ValueError: bad", error=error),
    )
    record = store.info("r1")
    assert record is not None
    assert (record.status, record.failure, record.reason) == (
        pb.FAILED,
        pb.RAISED,
        "ValueError: bad",
    )
    outcome = store.outcome("r1")
    assert outcome is not None and outcome.error == error


def test_count_counts_runs_by_status(store: RunStore) -> None:
    for i in range(3):
        store.create(run_id=f"r{i}", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("r0", _succeeded())
    assert store.count(pb.RUNNING) == 2
    assert store.count(pb.SUCCEEDED) == 1
    assert store.count(pb.FAILED) == 0


def test_a_small_result_is_kept_inline(store: RunStore, tmp_path: Path) -> None:
    store.create(run_id="small", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("small", _succeeded(b"x" * INLINE_RESULT_LIMIT))
    assert not (tmp_path / "runs" / "small").exists()
    outcome = store.outcome("small")
    assert outcome is not None and outcome.result == b"x" * INLINE_RESULT_LIMIT


def test_a_large_result_goes_to_a_file_and_comes_back_whole(
    store: RunStore, tmp_path: Path
) -> None:
    big = bytes(range(256)) * (INLINE_RESULT_LIMIT // 256 + 1)
    store.create(run_id="big", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("big", _succeeded(big, result_repr="b'...'"))
    run_dir = tmp_path / "runs" / "big"
    assert [p.name for p in run_dir.iterdir()] == ["result.pkl"]  # no temporary left
    assert (run_dir / "result.pkl").read_bytes() == big
    outcome = store.outcome("big")
    assert outcome is not None
    assert outcome.result == big
    assert outcome.result_repr == "b'...'"


def test_a_large_result_is_not_also_stored_in_the_database(store: RunStore, tmp_path: Path) -> None:
    big = b"y" * (INLINE_RESULT_LIMIT + 1)
    store.create(run_id="big", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("big", _succeeded(big))
    assert (tmp_path / "runs.sqlite").stat().st_size < INLINE_RESULT_LIMIT
    wal = tmp_path / "runs.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size < INLINE_RESULT_LIMIT


def test_the_same_run_id_with_the_same_payload_is_not_recorded_twice(store: RunStore) -> None:
    assert store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)
    store.finish("r1", _succeeded())
    assert store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING) is False
    record = store.info("r1")
    assert record is not None and record.status == pb.SUCCEEDED  # untouched by the retry


@pytest.mark.parametrize(
    ("function", "digest"), [("mod:other", "d"), ("mod:fn", "other"), ("mod:other", "other")]
)
def test_the_same_run_id_with_another_payload_raises_duplicate_run_error(
    store: RunStore, function: str, digest: str
) -> None:
    store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)
    with pytest.raises(DuplicateRunError, match="r1"):
        store.create(run_id="r1", function=function, args_digest=digest, status=pb.RUNNING)
    record = store.info("r1")
    assert record is not None and record.function == "mod:fn"
    assert not store.create(run_id="r1", function="mod:fn", args_digest="d", status=pb.RUNNING)


def test_fail_running_fails_queued_and_running_runs_only(store: RunStore) -> None:
    store.create(run_id="queued", function="f", args_digest="d", status=pb.QUEUED)
    store.create(run_id="running", function="f", args_digest="d", status=pb.RUNNING)
    store.create(run_id="done", function="f", args_digest="d", status=pb.RUNNING)
    store.finish("done", _succeeded())

    assert sorted(store.fail_running()) == ["queued", "running"]

    for run_id in ("queued", "running"):
        record = store.info(run_id)
        assert record is not None
        assert (record.status, record.failure, record.reason) == (
            pb.FAILED,
            pb.WORKER_DIED,
            RESTART_REASON,
        )
        assert record.ended_at is not None
        outcome = store.outcome(run_id)
        assert outcome is not None and outcome.status == pb.FAILED
    done = store.outcome("done")
    assert done is not None and done.status == pb.SUCCEEDED and done.result == b"result"


def test_fail_running_twice_fails_nothing_the_second_time(store: RunStore) -> None:
    store.create(run_id="running", function="f", args_digest="d", status=pb.RUNNING)
    assert store.fail_running() == ["running"]
    assert store.fail_running() == []


def test_fail_running_takes_a_reason(store: RunStore) -> None:
    store.create(run_id="running", function="f", args_digest="d", status=pb.RUNNING)
    store.fail_running(reason="the machine rebooted")
    record = store.info("running")
    assert record is not None and record.reason == "the machine rebooted"


def test_records_and_results_survive_reopening_the_store(tmp_path: Path) -> None:
    big = b"z" * (INLINE_RESULT_LIMIT * 2)
    first = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    first.create(run_id="small", function="f", args_digest="d", status=pb.RUNNING)
    first.finish("small", _succeeded(b"small"))
    first.create(run_id="big", function="f", args_digest="d", status=pb.RUNNING)
    first.finish("big", _succeeded(big))
    first.create(run_id="left", function="f", args_digest="d", status=pb.RUNNING)
    first.close()

    second = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    try:
        small, large = second.outcome("small"), second.outcome("big")
        assert small is not None and small.result == b"small"
        assert large is not None and large.result == big
        assert second.fail_running() == ["left"]
    finally:
        second.close()


def test_many_threads_can_record_runs_at_once(store: RunStore) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                run_id = f"t{n}-{i}"
                store.create(run_id=run_id, function="f", args_digest="d", status=pb.RUNNING)
                store.finish(run_id, _succeeded(run_id.encode()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count(pb.SUCCEEDED) == 160
    outcome = store.outcome("t7-19")
    assert outcome is not None and outcome.result == b"t7-19"


def test_list_runs_keeps_runs_created_since_a_time_and_of_given_statuses(
    store: RunStore,
) -> None:
    store.create(run_id="old", function="f", args_digest="d", status=pb.RUNNING)
    time.sleep(0.01)
    cutoff = time.time()
    time.sleep(0.01)
    store.create(run_id="new", function="f", args_digest="d", status=pb.QUEUED)
    assert [r.run_id for r in store.list_runs(since=cutoff)] == ["new"]
    assert [r.run_id for r in store.list_runs(statuses=[pb.RUNNING])] == ["old"]
    assert [r.run_id for r in store.list_runs(since=cutoff, statuses=[pb.RUNNING])] == []
    assert [r.run_id for r in store.list_runs()] == ["new", "old"]
