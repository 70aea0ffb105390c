"""Exact accounting when the daemon's own map machinery fails: a worker thread of the
mapper raises (injected through the daemon's test hook, tests/server/map_faults.py, on a
private daemon of this module). The map must end FAILED with the reason, every item
without an outcome must be failed with it, the RPC must end with an error (never a hang,
never SUCCEEDED, never a None in a result's place), and a resume must complete it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.clusters.local import LocalCluster
from rhcli.errors import ExitCode, MapIncompleteError, RunError
from tests.conftest import REPO, run_cli
from tests.fixtures import batch
from tests.server.map_faults import FAULTY_ITEM, MESSAGE
from tests.server.test_run_records import assert_no_processes_left
from tests.support.environ import restore, snapshot

ITEMS = 40


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A private daemon with the fault hook (its environment set for its start only)."""
    home = tmp_path_factory.mktemp("faulty") / "home"
    saved = snapshot(("RHCLI_DAEMON_TEST_HOOK", "PYTHONPATH"))
    os.environ["RHCLI_DAEMON_TEST_HOOK"] = "tests.server.map_faults:install"
    os.environ["PYTHONPATH"] = str(REPO)
    cluster = LocalCluster("faulty", home=home)
    try:
        cluster.up()
    finally:
        restore(saved)
    try:
        yield cluster
    finally:
        cluster.down()
        assert_no_processes_left(home)


def _map_in_thread(fn: Any, items: list[int], **kwargs: Any) -> BaseException | list[Any]:
    """fn.map in a thread that must end: a hung map fails the test instead of hanging it."""
    ended: list[BaseException | list[Any]] = []

    def run() -> None:
        try:
            ended.append(fn.map(items, **kwargs))
        except BaseException as exc:
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(180)
    assert not thread.is_alive(), "the map hung after a failure inside the daemon"
    return ended[0]


def test_a_failure_inside_the_daemons_map_machinery_fails_the_map_loudly_and_resume_completes_it(
    faulty: LocalCluster, tmp_path: Path
) -> None:
    fn = rh.function(batch.record, system=faulty)
    log = str(tmp_path / "log")
    items = list(range(ITEMS))

    ended = _map_in_thread(fn, items, log=log, seconds=0.02, return_exceptions=True)

    assert isinstance(ended, MapIncompleteError), ended
    map_id = fn.last_map_id
    assert ended.map_id == map_id and ended.total == ITEMS
    assert 1 <= ended.missing < ITEMS
    assert MESSAGE in ended.reason and not ended.cluster_lost
    assert map_id in str(ended) and f"resume={map_id!r}" in str(ended)
    record = rh.runs(cluster=faulty, limit=5)[0]
    assert (record.run_id, record.status) == (map_id, "failed")
    assert MESSAGE in record.reason
    # Every recorded item has ended: none is left running, the unrun ones say why.
    item_runs = [r for r in rh.runs(cluster=faulty, limit=500, include_items=True) if r.parent]
    assert item_runs and all(r.status in ("succeeded", "failed") for r in item_runs)
    with pytest.raises(RunError, match="not run or not stored: the map stopped"):
        rh.get(f"{map_id}.{FAULTY_ITEM}", cluster=faulty)
    assert FAULTY_ITEM not in batch.executions(log)

    results = _map_in_thread(fn, items, log=log, seconds=0.02, resume=map_id)

    assert results == [2 * i for i in items]
    assert all(count == 1 for count in batch.executions(log).values())
    assert rh.runs(cluster=faulty, limit=5)[0].status == "succeeded"


def test_the_cli_exits_3_with_the_resume_command_and_the_command_completes_the_output(
    faulty: LocalCluster, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    inputs, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inputs.write_text("".join(json.dumps([i, str(log), 0.02]) + "\n" for i in range(ITEMS)))
    env = {"RHCLI_HOME": str(faulty.daemon.paths.root)}

    done = run_cli(
        "map", "tests.fixtures.batch:record", "--input", str(inputs), "--output", str(out), env=env
    )

    assert done.returncode == ExitCode.UNREACHABLE, done.stderr
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert MESSAGE in error and "items have no result" in error
    command = error.split("Resume it with `", 1)[1].split("`", 1)[0]
    assert command.startswith("rhcli map tests.fixtures.batch:record --input ")
    assert "--resume " in command
    # The lines before the first item without a result, in input order, nothing else.
    assert out.read_text().splitlines() == [str(2 * i) for i in range(FAULTY_ITEM)]
    assert "without a result" in done.stderr and f"results in {out}" in done.stderr

    argv = command.split()[1:]
    again = run_cli(*argv, env=env)

    assert again.returncode == 0, again.stderr
    assert out.read_text().splitlines() == [str(2 * i) for i in range(ITEMS)]
    assert all(count == 1 for count in batch.executions(str(log)).values())
    assert f"{ITEMS} succeeded, 0 failed" in again.stderr


def test_the_daemon_refuses_a_test_hook_that_is_not_the_suites_before_anything(
    tmp_path: Path,
) -> None:
    root = tmp_path / "home"
    done = subprocess.run(
        [sys.executable, "-m", "rhcli.server", "--home", str(root)],
        env={**os.environ, "RHCLI_HOME": str(root), "RHCLI_DAEMON_TEST_HOOK": "os:system"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "RHCLI_DAEMON_TEST_HOOK" in done.stderr and "'os:system'" in done.stderr
    assert not root.exists()  # refused before anything was written or started
