"""`.remote()` and `rh.get` / `rh.cancel` through the session's real daemon."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rhcli as rh
import rhcli.errors
import rhcli.runref
from rhcli.clusters.local import LocalCluster
from rhcli.protocol import daemon_pb2 as pb
from tests.conftest import REPO
from tests.fixtures import funcs

RUN_ID = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)-\d{8}-\d{6}-[0-9a-f]{6,}$")


def _status(cluster, run_id: str) -> int:
    return cluster.client().get_run(run_id).status


def _wait_for(predicate, *, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _process_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_remote_returns_a_run_ref_at_once_while_the_function_runs(local) -> None:
    slow = rh.function(funcs.sleep_then, system=local)
    started = time.monotonic()
    ref = slow.remote(1.5, "slow")
    returned_after = time.monotonic() - started

    assert isinstance(ref, rh.RunRef)
    assert isinstance(ref, str)
    assert ref.run_id == str(ref)
    assert ref.cluster is local
    match = RUN_ID.match(ref)
    assert match is not None, f"run id {ref!r} is not name-YYYYmmdd-HHMMSS-hex"
    assert match["name"] == "sleep_then"
    # It answered while the function still sleeps: the record says so.
    assert _status(local, ref) == pb.RUNNING
    assert returned_after < 1.5
    assert rh.get(ref) == "slow"


def test_get_returns_the_result_of_a_run_ref(local) -> None:
    add = rh.function(funcs.add, system=local)
    ref = add.remote(2, 3)
    assert rh.get(ref) == 5
    assert ref.result() == 5  # the RunRef's own shortcut
    assert rh.get(ref) == 5  # a result can be fetched again


def test_get_of_a_plain_run_id_string_on_a_named_cluster(local) -> None:
    ref = rh.function(funcs.add, system=local).remote("a", "b")
    plain = str(ref)
    assert type(plain) is str
    assert rh.get(plain, cluster=local) == "ab"
    assert rh.get(plain, cluster="local") == "ab"


def test_get_with_a_timeout_gives_up_waiting_while_the_run_goes_on(local) -> None:
    ref = rh.function(funcs.sleep_then, system=local).remote(1.5, "finished anyway")
    started = time.monotonic()
    with pytest.raises(rh.errors.WaitTimeoutError) as caught:
        rh.get(ref, timeout=0.2)
    assert time.monotonic() - started < 1.4
    assert caught.value.run_id == ref
    assert "has not ended yet" in str(caught.value)
    assert isinstance(caught.value, TimeoutError)
    assert _status(local, ref) == pb.RUNNING  # giving up did not stop the run
    assert rh.get(ref) == "finished anyway"


def test_get_of_a_failed_run_raises_the_remote_exception(local) -> None:
    ref = rh.function(funcs.fail, system=local).remote("broken on purpose")
    with pytest.raises(funcs.CustomError) as caught:
        rh.get(ref)
    assert "broken on purpose" in str(caught.value)
    assert ref in str(caught.value)
    assert caught.value.run_id == ref
    assert "in fail" in caught.value.remote_traceback
    # The record keeps the error: a second get raises it again.
    with pytest.raises(funcs.CustomError):
        rh.get(str(ref), cluster=local)


def test_get_of_an_unknown_run_id_raises_unknown_run_error(local) -> None:
    with pytest.raises(rhcli.errors.UnknownRunError) as caught:
        rh.get("nothing-20200101-000000-abcdef", cluster=local)
    assert "nothing-20200101-000000-abcdef" in str(caught.value)
    assert caught.value.exit_code == rhcli.errors.ExitCode.USAGE


def test_run_ref_argument_is_resolved_on_the_cluster(local) -> None:
    add = rh.function(funcs.add, system=local)
    first = rh.function(funcs.sleep_then, system=local).remote(0.3, 41)
    # Passed on at once: the cluster waits for the first run and hands its result on.
    assert add(first, 1) == 42
    chained = add.remote(add.remote(1, 2), 10)
    assert rh.get(chained) == 13


REF_SIZE = 200 * 2**20


def _client_spec(cluster) -> dict[str, object]:
    """rh.cluster's arguments that reach cluster from another process."""
    target = getattr(cluster, "target", None)
    if target is None:
        return {"name": cluster.name}
    return {
        "name": cluster.name,
        "host": target.hostname,
        "port": target.port,
        "user": target.user,
        "key": target.key_files[0],
        "home": cluster.home,
    }


def test_a_run_ref_passed_on_keeps_its_value_on_the_cluster(local) -> None:
    """A 200 MiB result passed by RunRef into another call never comes to the client:
    the client's peak memory stays far below the value's size, while fetching the same
    value (the control) does show it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.fixtures.ref_client",
            json.dumps(_client_spec(local)),
            str(REF_SIZE),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["passed_on"] == found["fetched"] == REF_SIZE
    grew_on_pass = found["after_pass"] - found["warm"]
    grew_on_fetch = found["after_fetch"] - found["warm"]
    assert grew_on_fetch >= REF_SIZE * 0.9, found  # the measure sees a value that comes
    assert grew_on_pass < REF_SIZE / 10, found  # ...and this one did not


def test_a_run_ref_to_a_map_resolves_to_its_list_of_results_on_the_cluster(local) -> None:
    add = rh.function(funcs.add, system=local)
    assert add.map(range(4), b=1) == [1, 2, 3, 4]
    whole = rh.runref.RunRef(add.last_map_id, local)
    assert rh.function(funcs.echo, system=local)(whole) == {"args": [[1, 2, 3, 4]], "kwargs": {}}
    assert rh.function(funcs.length, system=local)(whole) == 4
    empty = add.map([], b=1)
    assert empty == []
    assert rh.function(funcs.length, system=local)(rh.runref.RunRef(add.last_map_id, local)) == 0


def test_a_run_ref_to_a_failed_map_fails_the_dependent_call_clearly(local) -> None:
    fail_on = rh.function(funcs.fail_on, system=local)
    with pytest.raises(funcs.CustomError):
        fail_on.map(range(3), bad=frozenset({1}))
    failed = rh.runref.RunRef(fail_on.last_map_id, local)
    with pytest.raises(rh.RhcliError) as caught:
        rh.function(funcs.length, system=local)(failed)
    message = str(caught.value)
    assert f"argument run {failed} did not succeed" in message
    assert "EOFError" not in message


def test_run_ref_of_a_failed_run_fails_the_dependent_call_clearly(local) -> None:
    failed = rh.function(funcs.fail, system=local).remote("upstream broke")
    add = rh.function(funcs.add, system=local)
    with pytest.raises(rh.RhcliError) as caught:
        add(failed, 1)
    message = str(caught.value)
    assert f"argument run {failed} did not succeed" in message
    assert "upstream broke" in message
    # The dependent run has a record of its own, failed for that reason.
    dependent = caught.value.run_id
    assert dependent != failed
    assert _status(local, dependent) == pb.FAILED


def test_run_ref_of_another_cluster_is_refused_before_sending(local, tmp_path: Path) -> None:
    other = LocalCluster("other", home=tmp_path / "other-home")
    foreign = rhcli.runref.RunRef("add-20200101-000000-abcdef", other)
    add = rh.function(funcs.add, system=local, name="add_cross_cluster")
    with pytest.raises(rh.UsageError) as caught:
        add(foreign, 1)
    message = str(caught.value)
    assert "'other'" in message and "'local'" in message
    assert "rh.get(ref)" in message
    with pytest.raises(rh.UsageError):
        add.remote(foreign, 1)
    assert rh.runs(cluster=local, function="add_cross_cluster") == []  # nothing was sent
    assert other.daemon.state() is None  # and the other cluster was never started


def test_cancel_stops_a_running_run_and_its_worker(local, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    ref = rh.function(funcs.sleep_writing_pid, system=local).remote(str(pid_file), 60)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the run to start")
    worker_pid = int(pid_file.read_text())

    started = time.monotonic()
    info = rh.cancel(ref)
    assert info.status == "cancelled"
    assert time.monotonic() - started < 10
    assert _status(local, ref) == pb.CANCELLED
    with pytest.raises(rhcli.errors.RunCancelledError) as caught:
        rh.get(ref)
    assert caught.value.run_id == ref
    # The worker process itself was stopped, not just forgotten.
    _wait_for(lambda: _process_gone(worker_pid), what=f"worker {worker_pid} to stop")
    # The cluster goes on serving.
    assert rh.function(funcs.add, system=local)(1, 2) == 3


def test_second_cancel_is_a_no_op(local) -> None:
    ref = rh.function(funcs.sleep_then, system=local).remote(60)
    assert rh.cancel(ref).status == "cancelled"
    again = rh.cancel(ref)
    assert again.status == "cancelled"
    assert again.ended_at == local.client().get_run(ref).ended_at


def test_cancel_of_a_finished_run_leaves_it_as_it_is(local) -> None:
    ref = rh.function(funcs.add, system=local).remote(1, 1)
    assert rh.get(ref) == 2
    assert rh.cancel(ref).status == "succeeded"
    assert rh.get(ref) == 2


def test_get_of_a_map_id_returns_its_results_in_order_or_raises_the_first_failure(local) -> None:
    add = rh.function(funcs.add, system=local)
    assert add.map(range(3), b=10) == [10, 11, 12]
    assert rh.get(add.last_map_id, cluster=local) == [10, 11, 12]

    fail_on = rh.function(funcs.fail_on, system=local)
    with pytest.raises(funcs.CustomError):
        fail_on.map(range(4), bad=frozenset({2, 3}))
    with pytest.raises(funcs.CustomError, match="item 2 is bad"):
        rh.get(fail_on.last_map_id, cluster=local)
