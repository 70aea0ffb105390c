"""Durable run records: every call leaves one, and they outlive the daemon.

The records of ordinary calls are checked on the session's daemon; restarts, kill -9 and
retention on a private daemon (its own root), so the session's daemon is never disturbed.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import rhcli as rh
import rhcli.errors
from rhcli.clusters.local import LocalCluster
from rhcli.clusters.local_daemon import LocalDaemon
from rhcli.config.daemon_state import is_daemon_process
from rhcli.config.paths import DaemonPaths
from rhcli.config.root_processes import _writes_under
from rhcli.protocol import daemon_pb2 as pb
from rhcli.runref import new_run_id
from rhcli.server.run_logs import log_path
from rhcli.server.runstore import RESTART_REASON, RunStore
from tests.conftest import processes_of_root
from tests.fixtures import funcs

RUN_ID = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)-\d{8}-\d{6}-[0-9a-f]{6,}$")


def _wait_for(predicate, *, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _lines(path: Path) -> int:
    return path.read_text().count("ran") if path.exists() else 0


def _only(records: list, name: str):
    assert len(records) == 1, f"{name}: expected one record, found {len(records)}"
    return records[0]


def _assert_ended_in_order(info) -> None:
    assert 0 < info.created_at <= info.started_at <= info.ended_at <= time.time()


# --- every kind of call leaves a record (the session's daemon) ----------------------------


def test_every_kind_of_call_leaves_a_record_with_status_and_times(local) -> None:
    tag = secrets.token_hex(3)
    names = {kind: f"rec_{kind}_{tag}" for kind in ("blocking", "remote", "enqueue", "map")}

    assert rh.function(funcs.add, system=local, name=names["blocking"])(1, 2) == 3
    ref = rh.function(funcs.add, system=local, name=names["remote"]).remote(3, 4)
    assert rh.get(ref) == 7
    assert rh.function(funcs.add, system=local, name=names["enqueue"]).enqueue(5, 6) == 11
    mapped = rh.function(funcs.add, system=local, name=names["map"])
    assert mapped.map([1, 2, 3], b=10) == [11, 12, 13]

    for kind, name in names.items():
        info = _only(rh.runs(cluster=local, function=name), name)
        match = RUN_ID.match(info.run_id)
        assert match is not None and match["name"] == name, info.run_id
        assert info.function == name
        assert info.status == "succeeded", kind
        assert info.parent is None
        _assert_ended_in_order(info)
    assert _only(rh.runs(cluster=local, function=names["remote"]), "remote").run_id == ref

    # The map as a whole has a record; each item has one of its own, <map id>.<index>.
    whole = _only(rh.runs(cluster=local, function=names["map"]), "map")
    assert whole.run_id == mapped.last_map_id
    assert (whole.items, whole.items_failed) == (3, 0)
    with_items = rh.runs(cluster=local, function=names["map"], include_items=True)
    items = sorted((r for r in with_items if r.parent), key=lambda r: r.run_id)
    assert [r.run_id for r in items] == [f"{whole.run_id}.{i}" for i in range(3)]
    for item in items:
        assert item.parent == whole.run_id
        assert item.status == "succeeded"
        _assert_ended_in_order(item)
        assert local.client().get_run(item.run_id).run_id == item.run_id


def test_failed_runs_are_recorded_with_their_reason(local) -> None:
    name = f"rec_fail_{secrets.token_hex(3)}"
    with pytest.raises(funcs.CustomError):
        rh.function(funcs.fail, system=local, name=name)("recorded failure")
    info = _only(rh.runs(cluster=local, function=name), name)
    assert info.status == "failed"
    assert "CustomError" in info.reason and "recorded failure" in info.reason
    _assert_ended_in_order(info)

    mapped = rh.function(funcs.fail_on, system=local, name=f"{name}_map")
    mapped.map([1, 2, 3], bad=frozenset({2}), return_exceptions=True)
    whole = _only(rh.runs(cluster=local, function=f"{name}_map"), "map")
    assert whole.status == "failed"
    assert (whole.items, whole.items_failed) == (3, 1)
    assert "1 of 3 items failed" in whole.reason
    failed_item = local.client().get_run(f"{whole.run_id}.1")
    assert failed_item.status == pb.FAILED


def test_a_record_is_written_before_the_call_answers(local) -> None:
    ref = rh.function(funcs.sleep_then, system=local).remote(0.5, "x")
    info = local.client().get_run(ref)  # no waiting: the record is there already
    assert info.status == pb.RUNNING
    assert info.created_at > 0 and info.ended_at == 0
    assert rh.get(ref) == "x"


def test_the_run_store_keeps_function_arguments_digest_and_times(local) -> None:
    name = f"rec_store_{secrets.token_hex(3)}"
    add = rh.function(funcs.add, system=local, name=name)
    add(1, 2)
    add(1, 2)
    add(2, 1)
    db = sqlite3.connect(f"file:{local.daemon.paths.run_db}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT run_id, args_digest, status, created_at, started_at, ended_at, outcome "
            "FROM runs WHERE function = ? ORDER BY created_at",
            (name,),
        ).fetchall()
    finally:
        db.close()
    assert len(rows) == 3
    digests = [row[1] for row in rows]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in digests)
    assert digests[0] == digests[1] != digests[2]  # same arguments, same digest
    for _, _, status, created, started, ended, outcome in rows:
        assert status == pb.SUCCEEDED
        assert created <= started <= ended
        assert pb.RunOutcome.FromString(outcome).status == pb.SUCCEEDED


def test_run_ids_are_unique_and_readable() -> None:
    # A batch can start a thousand calls of one function within one second.
    ids = {new_run_id("sd generate!") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(RUN_ID.match(i) and i.startswith("sd-generate-") for i in ids)


def test_purge_older_than_deletes_only_finished_runs_past_the_cutoff(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite", tmp_path / "runs")
    try:
        for run_id in ("old", "running", "queued"):
            status = pb.QUEUED if run_id == "queued" else pb.RUNNING
            store.create(run_id=run_id, function="f", args_digest="d", status=status)
        big = pb.RunOutcome(status=pb.SUCCEEDED, result=b"r" * (1024 * 1024))
        store.finish("old", big)
        found = store.result_file("old")
        assert found is not None and found[1] == 1024 * 1024
        result_file = found[0]

        assert store.purge_older_than(3600) == 0  # too recent
        time.sleep(0.05)
        assert store.purge_older_than(0.01) == 1
        assert store.info("old") is None
        assert not result_file.exists()
        assert store.status("running") == pb.RUNNING  # in flight: never deleted
        assert store.status("queued") == pb.QUEUED
    finally:
        store.close()


# --- restarts, kill -9 and retention (a private daemon) -----------------------------------


@pytest.fixture(scope="module")
def private(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalCluster]:
    home = tmp_path_factory.mktemp("records-home")
    cluster = LocalCluster("records", home=home)
    cluster.up()
    yield cluster
    cluster.down()
    assert_no_processes_left(home)


def assert_no_processes_left(home: Path) -> None:
    """Fail if the daemon of home left processes behind (stopping them first, so none
    outlives the test): found by their environment, or by the Ray logs they write."""
    logs = f"{DaemonPaths(home).ray_temp_dir}/"

    def left() -> list[int]:
        writers = {
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and int(p.name) != os.getpid() and _writes_under(p, logs)
        }
        return sorted(writers | set(processes_of_root(home)))

    deadline = time.monotonic() + 20
    while (found := left()) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = []
    for pid in found:
        try:
            described.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:60]!r}")
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not found, "processes left behind by the daemon:\n" + "\n".join(described)


def test_results_and_errors_survive_a_daemon_restart(private) -> None:
    add = rh.function(funcs.add, system=private)
    big = rh.function(funcs.make_bytes, system=private)
    ok = add.remote(20, 22)
    failed = rh.function(funcs.fail, system=private).remote("kept across restarts")
    large = big.remote(3 * 1024 * 1024)  # kept in a file beside the run store
    assert rh.get(ok) == 42
    assert len(rh.get(large)) == 3 * 1024 * 1024
    with pytest.raises(funcs.CustomError):
        rh.get(failed)
    old_pid = private.daemon.state().pid

    private.restart_server()

    assert private.daemon.state().pid != old_pid
    assert rh.get(ok) == 42
    assert rh.get(str(ok), cluster=private) == 42
    with pytest.raises(funcs.CustomError, match="kept across restarts"):
        rh.get(failed)
    assert rh.get(large) == b"x" * (3 * 1024 * 1024)
    listed = {r.run_id: r.status for r in rh.runs(cluster=private, limit=100)}
    assert listed[ok] == "succeeded"
    assert listed[failed] == "failed"


def test_kill_9_fails_running_runs_without_rerunning_them_and_runs_queued_ones_after(
    private, tmp_path: Path
) -> None:
    finished = rh.function(funcs.add, system=private).remote(1, 2)
    assert rh.get(finished) == 3
    printed = rh.function(funcs.ticks, system=private).remote(5, 0)
    assert rh.get(printed) == 5
    printed_log = log_path(private.daemon.paths.runs_dir, printed)
    log_bytes = printed_log.read_bytes()

    counting = rh.function(funcs.count_then_sleep, system=private)
    ran = {name: tmp_path / name for name in ("running", "queue_head", "queued")}
    running = counting.remote(str(ran["running"]), 60)
    # The queue's head runs; the second enqueued run waits behind it.
    queue_head = counting.call_raw(
        (str(ran["queue_head"]), 60), {}, enqueue=True, detach=True
    ).run_id
    queued = counting.call_raw(
        (str(ran["queued"]), 0, "ran after the restart"), {}, enqueue=True, detach=True
    ).run_id
    queued_last = counting.call_raw(
        (str(tmp_path / "queued_last"), 0, "ran last"), {}, enqueue=True, detach=True
    ).run_id
    _wait_for(
        lambda: _lines(ran["running"]) == 1 and _lines(ran["queue_head"]) == 1,
        what="both long runs to start",
    )
    assert private.client().get_run(queued).status == pb.QUEUED

    daemon_pid = private.daemon.state().pid
    os.kill(daemon_pid, signal.SIGKILL)
    _wait_for(lambda: not is_daemon_process(daemon_pid), what="the daemon to die")
    # Started again from elsewhere (as `rhcli up` would); this client's connection is stale.
    LocalDaemon(private.daemon.paths.root).start()
    # Nothing of the killed daemon's Ray is left: no process writes its session's logs
    # (Ray's agents can lose the owner marker from what /proc shows of their environment).
    (old_session,) = private.daemon.paths.ray_temp_dir.glob(f"session_*_{daemon_pid}")
    writers = [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and p.name != str(os.getpid())
    ]
    assert not [p.name for p in writers if _writes_under(p, f"{old_session}/")]

    for run_id in (running, queue_head):
        with pytest.raises(rhcli.errors.WorkerDiedError) as caught:
            rh.get(run_id, cluster=private)
        assert RESTART_REASON in str(caught.value)
        info = private.client().get_run(run_id)
        assert info.status == pb.FAILED
        assert info.reason == RESTART_REASON
    assert rh.get(queued, cluster=private) == "ran after the restart"
    assert rh.get(queued_last, cluster=private) == "ran last"
    assert _lines(ran["queued"]) == 1
    # The queued runs ran in the order they arrived in.
    first, last = (private.client().get_run(r) for r in (queued, queued_last))
    assert first.ended_at <= last.started_at
    assert rh.get(finished) == 3  # a result stored before the kill is still there
    assert rh.get(printed) == 5
    assert printed_log.read_bytes() == log_bytes  # and its log, byte for byte
    time.sleep(0.5)
    # Never re-run: each long run's side effect happened exactly once.
    assert _lines(ran["running"]) == 1
    assert _lines(ran["queue_head"]) == 1


def test_a_daemon_with_a_short_retention_deletes_finished_runs(
    private, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept_until_restart = rh.function(funcs.make_bytes, system=private).remote(1024 * 1024)
    assert len(rh.get(kept_until_restart)) == 1024 * 1024
    result_dir = private.daemon.paths.runs_dir / kept_until_restart
    assert result_dir.is_dir()

    # The daemon reads its retention from the environment it is started with.
    monkeypatch.setenv("RHCLI_RETENTION_DAYS", "0.00001")  # under a second
    try:
        private.restart_server()

        def purged() -> bool:
            try:
                rh.get(kept_until_restart)
            except rhcli.errors.UnknownRunError:
                return True
            return False

        _wait_for(purged, timeout=10, what="the run to be deleted")
        assert not result_dir.exists()
        assert kept_until_restart not in {r.run_id for r in rh.runs(cluster=private)}
        # New runs still work (they are kept until the next purge).
        assert rh.function(funcs.add, system=private)(2, 2) == 4
    finally:
        private.down()  # the next user starts it with the ordinary retention
