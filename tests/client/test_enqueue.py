"""`.enqueue()`: one FIFO per function per cluster, held by the daemon, whoever enqueues."""

from __future__ import annotations

import itertools
import json
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.protocol import daemon_pb2 as pb
from tests.conftest import REPO, run_cli
from tests.fixtures import funcs

PROCESSES = 10  # 100 enqueues from 10 processes at once (the fault suite's item 4)
PER_PROCESS = 10

# Each process enqueues its calls from as many threads at once, then prints the results.
_ENQUEUER = textwrap.dedent(
    """
    import json, sys
    from concurrent.futures import ThreadPoolExecutor
    import rhcli as rh

    name, count = sys.argv[1], int(sys.argv[2])
    fn = rh.function("tests.fixtures.funcs:timed_window", system="local", name=name)
    with ThreadPoolExecutor(count) as pool:
        windows = list(pool.map(lambda _: fn.enqueue(0.02), range(count)))
    print(json.dumps(windows))
    """
)


def test_concurrent_enqueues_from_many_processes_never_overlap_and_keep_arrival_order(
    local,
) -> None:
    name = f"fifo_{secrets.token_hex(3)}"
    local.up()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _ENQUEUER, name, str(PER_PROCESS)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    returned: list[list[float]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        returned += json.loads(out)
    assert len(returned) == PROCESSES * PER_PROCESS

    records = rh.runs(cluster=local, function=name, limit=100)
    assert len(records) == PROCESSES * PER_PROCESS
    assert all(r.status == "succeeded" for r in records)
    # The daemon's arrival order is the order it recorded the runs in.
    arrival = sorted(records, key=lambda r: r.created_at)
    windows = [tuple(rh.get(r.run_id, cluster=local)) for r in arrival]
    assert sorted(windows) == sorted(tuple(w) for w in returned)  # each caller got its own

    starts = [start for start, _ in windows]
    assert starts == sorted(starts), "runs did not start in the order they arrived"
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end <= next_start, "two enqueued runs of one function overlapped"
    # And from the daemon's side: each started after the previous one ended.
    for before, after in itertools.pairwise(arrival):
        assert before.ended_at <= after.started_at


def test_enqueue_blocks_until_done_and_returns_the_result(local) -> None:
    fn = rh.function(funcs.sleep_then, system=local)
    started = time.monotonic()
    assert fn.enqueue(0.3, value={"done": True}) == {"done": True}
    assert time.monotonic() - started >= 0.3


def test_enqueue_raises_the_remote_exception(local) -> None:
    with pytest.raises(funcs.CustomError, match="queued and broke"):
        rh.function(funcs.fail, system=local).enqueue("queued and broke")


def test_status_shows_queue_depth_and_a_queued_run_can_be_cancelled(local, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    gate = tmp_path / "gate"
    fn = rh.function(funcs.count_then_wait, system=local, name="queue_depth_probe")
    # One run holds the queue until the gate opens; two wait behind it.
    running = fn.call_raw((str(counter), str(gate)), {}, enqueue=True, detach=True).run_id
    first_queued = fn.call_raw((str(counter), str(gate), 1), {}, enqueue=True, detach=True).run_id
    second_queued = fn.call_raw((str(counter), str(gate), 2), {}, enqueue=True, detach=True).run_id
    client = local.client()
    assert client.get_run(first_queued).status == pb.QUEUED

    status = local.status()
    assert status.runs_queued >= 2
    assert status.queue_depths["queue_depth_probe"] == 3  # two waiting, one running

    shown = run_cli("--json", "status")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["runs_queued"] >= 2
    assert document["queue_depths"]["queue_depth_probe"] == 3
    human = run_cli("status")
    assert "queued" in human.stdout and "queue_depth_probe: 3" in human.stdout

    # Cancelling a queued run takes it out of the queue at once: it never runs.
    assert rh.cancel(first_queued, cluster=local).status == "cancelled"
    assert local.status().queue_depths["queue_depth_probe"] == 2
    gate.touch()
    assert rh.get(second_queued, cluster=local) == 2
    assert rh.get(running, cluster=local) is None
    assert counter.read_text().count("ran") == 2  # the cancelled one never started
    assert client.get_run(first_queued).started_at == 0
    assert "queue_depth_probe" not in local.status().queue_depths
