"""Resuming a map by id through the session's real daemon: only the items without a
successful result run again, the inputs must be the same (checked by digest, by the
client's journal and by the cluster), and the map stays one map with its attempts."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.errors import (
    ArgumentNotSerializableError,
    ChangedInputError,
    EntrypointNotFoundError,
    UsageError,
)
from rhcli.map_journal import MapJournal, journals_root
from rhcli.runs_api import outcome
from tests.fixtures import batch


def _flaky(local, tmp_path: Path, name: str):
    fn = rh.function(batch.record, system=local, name=name)
    log, marker = tmp_path / "log", tmp_path / "fixed"
    return fn, log, marker


def _record(local, map_id: str):
    (found,) = [r for r in rh.runs(cluster=local, limit=50) if r.run_id == map_id]
    return found


def test_a_resume_runs_only_the_items_without_a_successful_result_and_gives_them_all(
    local, tmp_path: Path
) -> None:
    fn, log, marker = _flaky(local, tmp_path, "resume_flaky")
    items = list(range(20))
    options = {"log": str(log), "fail_unless": str(marker), "fail_every": 4}
    first = fn.map(items, **options, return_exceptions=True)
    map_id = fn.last_map_id
    failed = [i for i, r in enumerate(first) if isinstance(r, batch.BatchError)]
    assert failed == [0, 4, 8, 12, 16]
    assert _record(local, map_id).status == "failed"

    marker.touch()  # what made them fail is fixed
    results = fn.map(items, **options, resume=map_id)

    assert results == [2 * i for i in items]
    assert fn.last_map_id == map_id
    runs = batch.executions(str(log))
    assert {i: runs[i] for i in failed} == dict.fromkeys(failed, 2)  # run again
    assert all(runs[i] == 1 for i in items if i not in failed)  # reused, never run twice
    record = _record(local, map_id)
    assert (record.status, record.attempts, record.items) == ("succeeded", 2, 20)
    assert (record.items_succeeded, record.items_failed) == (20, 0)
    assert rh.get(map_id, cluster=local) == results
    assert len([r for r in rh.runs(cluster=local, limit=50) if r.run_id == map_id]) == 1


def test_a_resume_of_a_complete_map_runs_nothing_and_gives_every_result(
    local, tmp_path: Path
) -> None:
    fn, log, _ = _flaky(local, tmp_path, "resume_complete")
    assert fn.map(range(5), log=str(log)) == [0, 2, 4, 6, 8]
    assert fn.map(range(5), log=str(log), resume=fn.last_map_id) == [0, 2, 4, 6, 8]
    assert batch.executions(str(log)) == dict.fromkeys(range(5), 1)
    assert _record(local, fn.last_map_id).attempts == 2


def test_a_resume_with_a_changed_input_is_refused_naming_the_first_that_differs(
    local, tmp_path: Path
) -> None:
    fn, log, marker = _flaky(local, tmp_path, "resume_changed")
    items = list(range(12))
    fn.map(items, log=str(log), fail_unless=str(marker), fail_every=5, return_exceptions=True)
    map_id = fn.last_map_id
    before = batch.executions(str(log))
    changed = [*items[:7], 99, *items[8:10], 98, items[11]]

    with pytest.raises(ChangedInputError) as refused:
        fn.map(changed, log=str(log), fail_unless=str(marker), fail_every=5, resume=map_id)

    assert refused.value.index == 7
    assert "input item 7" in str(refused.value) and map_id in str(refused.value)
    assert batch.executions(str(log)) == before  # nothing ran
    assert _record(local, map_id).attempts == 1  # nothing was sent


def test_without_its_journal_the_clusters_digests_still_refuse_a_changed_input(
    local, tmp_path: Path
) -> None:
    fn, log, marker = _flaky(local, tmp_path, "resume_no_journal")
    items = list(range(10))
    options = {"log": str(log), "fail_unless": str(marker), "fail_every": 3}
    fn.map(items, **options, return_exceptions=True)
    map_id = fn.last_map_id
    shutil.rmtree(journals_root() / map_id)  # as if resumed from another machine

    with pytest.raises(ChangedInputError) as refused:
        fn.map([*items[:4], -4, *items[5:]], **options, resume=map_id)
    assert refused.value.index == 4

    shutil.rmtree(journals_root() / map_id)
    marker.touch()
    results = fn.map(items, **options, resume=map_id)
    assert results == [2 * i for i in items]  # the cluster's results, and the rerun ones
    runs = batch.executions(str(log))
    assert all(runs[i] == (2 if i % 3 == 0 else 1) for i in items)


def test_a_resume_with_another_number_of_items_or_an_unknown_id_is_refused(
    local, tmp_path: Path
) -> None:
    fn, log, _ = _flaky(local, tmp_path, "resume_other")
    fn.map(range(4), log=str(log))
    with pytest.raises(UsageError, match="has 4 items, this input has 5"):
        fn.map(range(5), log=str(log), resume=fn.last_map_id)
    with pytest.raises(UsageError, match="there is no map resume_other-nosuch"):
        fn.map(range(4), log=str(log), resume="resume_other-nosuch")
    with pytest.raises(UsageError, match="cannot name a map"):
        fn.map(range(4), log=str(log), resume="../etc")


def test_recover_is_refused_on_a_cluster_that_is_not_sky_before_anything_runs(
    local, tmp_path: Path
) -> None:
    fn, log, _ = _flaky(local, tmp_path, "recover_local")
    with pytest.raises(UsageError, match="recover relaunches a lost sky cluster"):
        fn.map(range(3), log=str(log), recover=2)
    assert not log.exists()


def test_a_map_of_a_missing_function_fails_at_once_with_entrypoint_not_found(local) -> None:
    missing = rh.function("tests.fixtures.nosuchmodule:f", system=local)
    with pytest.raises(EntrypointNotFoundError) as caught:
        missing.map(range(2000))
    assert "nosuchmodule" in str(caught.value)
    ended = outcome(missing.last_map_id, cluster=local, timeout=60)  # it stops at once
    assert ended.status == "failed" and "nosuchmodule" in ended.reason


def test_the_journal_holds_every_result_received_and_the_digest_of_every_item_sent(
    local, tmp_path: Path
) -> None:
    fn, log, marker = _flaky(local, tmp_path, "journal")
    fn.map(range(8), log=str(log), fail_unless=str(marker), fail_every=4, return_exceptions=True)
    with MapJournal.open(fn.last_map_id, writable=False) as journal:
        assert journal.total == 8
        assert [i for i in range(8) if journal.has(i)] == [1, 2, 3, 5, 6, 7]
        assert journal.outcome(5).result_json is None  # Python maps ask for no JSON
        assert len(journal.digests()) == 8 * 32


def test_an_item_that_cannot_be_pickled_ends_the_map_loudly_never_with_nones(
    local, tmp_path: Path
) -> None:
    fn, log, _ = _flaky(local, tmp_path, "unpicklable")
    with pytest.raises(ArgumentNotSerializableError):
        fn.map([0, 1, 2, threading.Lock(), 4], log=str(log))
    record = _record(local, fn.last_map_id)
    assert record.status == "failed"
    # Items go in batches: the one holding the bad item was never sent.
    assert "5 of 5 were never received" in record.reason
    assert batch.executions(str(log)) == {}


def test_an_item_that_succeeded_sent_again_is_answered_from_its_record_never_run_twice(
    local, tmp_path: Path
) -> None:
    """A resume that sends every item (as a client of its own making would): the ones
    that succeeded are answered from the record; only the failed ones run again."""
    from rhcli.map_stream import map_requests
    from rhcli.protocol import daemon_pb2 as pb

    fn, log, marker = _flaky(local, tmp_path, "resend")
    options = {"log": str(log), "fail_unless": str(marker), "fail_every": 3}
    first = fn.map(range(7), **options, return_exceptions=True)
    map_id = fn.last_map_id
    marker.touch()
    start = pb.MapStart(
        run_id=map_id, function=fn.function_message(), total=7, resume=True, attempt=2
    )
    calls = [((i,), options) for i in range(7)]
    requests = map_requests(start, enumerate(calls), target=local, journal=None, seen=bytearray(7))

    answered = {r.index: r.outcome for reply in local.client().map(requests) for r in reply.results}

    assert sorted(answered) == list(range(7))
    assert all(o.status == pb.SUCCEEDED for o in answered.values())
    runs = batch.executions(str(log))
    assert runs == {i: 2 if i % 3 == 0 else 1 for i in range(7)}
    kept = [i for i, r in enumerate(first) if not isinstance(r, Exception)]
    assert rh.get(map_id, cluster=local) == [2 * i for i in range(7)] and kept == [1, 2, 4, 5]
