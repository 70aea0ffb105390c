"""Functions that crash, hog memory or refuse to stop, on the session's daemon.

Each test: set-up, the fault, what must hold. Every fault ends as a run with a status and a
clear reason, and the daemon serves the next call. (Unknown functions, missing modules,
modules raising on import, sys.exit and os._exit are in tests/client/test_calls.py.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.errors import ResultNotSerializableError, RunCancelledError, WorkerDiedError
from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.executor import CANCEL_GRACE_S
from tests.faults import crashers
from tests.fixtures import funcs


def _wait_for(condition: Callable[[], bool], *, timeout: float = 30, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state == "Z"


def test_a_segfault_fails_the_run_as_a_dead_worker_and_the_next_call_works(local: Any) -> None:
    segfault = rh.function(crashers.segfault, system=local)

    with pytest.raises(WorkerDiedError) as caught:
        segfault()

    assert "worker process died" in str(caught.value)
    assert local.client().get_run(caught.value.run_id).status == pb.FAILED
    assert rh.function(funcs.add, system=local)(2, 3) == 5


def test_a_call_over_its_memory_limit_is_killed_with_that_reason_and_the_daemon_serves_on(
    local: Any,
) -> None:
    # The function stops by itself at 1.5 GiB if the limit were not enforced, so a broken
    # limit fails this test instead of taking the machine's memory.
    limit = 300 * 1024 * 1024
    hog = rh.function(crashers.allocate_forever, system=local, resources={"memory": limit})

    started = time.monotonic()
    with pytest.raises(WorkerDiedError) as caught:
        hog(32, timeout=60)

    assert time.monotonic() - started < 30
    assert f"over its limit of {limit:,} bytes" in str(caught.value)
    info = local.client().get_run(caught.value.run_id)
    assert (info.status, info.failure) == (pb.FAILED, pb.WORKER_DIED)
    assert local.client().health().version  # the daemon answers
    assert rh.function(funcs.add, system=local)(1, 1) == 2


def test_cancel_sends_sigterm_first_so_an_ordinary_run_ends_at_once(
    local: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    ref = rh.function(funcs.sleep_writing_pid, system=local).remote(str(pid_file), 60)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", what="the run to start")

    started = time.monotonic()
    info = rh.cancel(ref)

    assert info.status == "cancelled"
    assert time.monotonic() - started < CANCEL_GRACE_S  # SIGTERM ended it, not the kill
    _wait_for(lambda: _gone(int(pid_file.read_text())), what="the worker to exit")


def test_cancel_kills_a_run_that_ignores_sigterm_after_the_grace_period_and_again_is_a_no_op(
    local: Any, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    ref = rh.function(crashers.ignore_sigterm_then_sleep, system=local).remote(str(pid_file), 120)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", what="the run to start")
    worker = int(pid_file.read_text())
    answers: list[Any] = []

    started = time.monotonic()
    first = threading.Thread(target=lambda: answers.append(rh.cancel(ref)))
    first.start()
    time.sleep(0.5)
    assert not _gone(worker), "the worker was killed without its grace period"
    answers.append(rh.cancel(ref))  # a second cancel during the grace period waits for it
    first.join(30)
    took = time.monotonic() - started

    assert [a.status for a in answers] == ["cancelled", "cancelled"]
    assert answers[0].ended_at == answers[1].ended_at
    assert CANCEL_GRACE_S - 0.5 <= took < CANCEL_GRACE_S + 8, took
    _wait_for(lambda: _gone(worker), timeout=10, what=f"worker {worker} to be killed")
    with pytest.raises(RunCancelledError):
        rh.get(ref)
    again = rh.cancel(ref)  # and one after the end changes nothing
    assert (again.status, again.ended_at) == ("cancelled", answers[0].ended_at)
    assert rh.function(funcs.add, system=local)(4, 4) == 8


def test_an_unpicklable_result_fails_the_run_saying_so_and_keeps_its_logs(local: Any) -> None:
    fn = rh.function(crashers.print_then_return_a_lock, system=local)

    with pytest.raises(ResultNotSerializableError) as caught:
        fn("printed before the bad return")

    assert "cannot be pickled" in str(caught.value)
    run_id = caught.value.run_id
    logged = [line.text for b in local.client().logs(run_id, follow=False) for line in b.lines]
    assert logged == ["printed before the bad return"]
    assert rh.function(funcs.add, system=local)(5, 5) == 10
