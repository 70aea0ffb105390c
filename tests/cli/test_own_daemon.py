"""CLI behaviours that stop or restart a daemon, on a root of their own (never the
session's): a bad setting stops nothing, and a run whose daemon stops under it names
its run id so its outcome can be fetched after a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, processes_of_root, run_cli

FUNCS = "tests.fixtures.funcs"


@pytest.fixture
def own_root(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A daemon of this test's own; stopped (and checked) at the end."""
    env = {"RHCLI_HOME": str(tmp_path / "root")}
    up = run_cli("up", env=env, timeout=180)
    assert up.returncode == 0, up.stderr
    try:
        yield env
    finally:
        run_cli("down", env=env)
        deadline = time.monotonic() + 30
        while processes_of_root(tmp_path / "root") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert processes_of_root(tmp_path / "root") == []


def _pid(env: dict[str, str]) -> int:
    done = run_cli("--json", "status", env=env)
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["pid"])


def test_restart_with_a_malformed_setting_stops_nothing(own_root: dict[str, str]) -> None:
    pid = _pid(own_root)
    done = run_cli("restart", env={**own_root, "RHCLI_RETENTION_DAYS": "abc"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: RHCLI_RETENTION_DAYS='abc' is not a number of days")
    assert "Traceback" not in done.stderr
    assert _pid(own_root) == pid  # the working daemon is still there, still answering


def test_a_run_whose_daemon_stops_under_it_names_its_run_id(own_root: dict[str, str]) -> None:
    caller = subprocess.Popen(
        [str(Path(sys.executable).parent / "rhcli"), "--json", "run", f"{FUNCS}:sleep_then", "60"],
        cwd=REPO,
        env={**os.environ, **own_root},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = run_cli("--json", "runs", "--status", "running", env=own_root).stdout
        if json.loads(running):
            break
        time.sleep(0.2)
    assert run_cli("down", env=own_root).returncode == 0
    out, err = caller.communicate(timeout=120)
    assert caller.returncode == 3, err
    error = json.loads(out)["error"]
    run_id = error["run_id"]
    assert run_id.startswith("sleep_then-") and error["exit_code"] == 3
    assert f"`rhcli get {run_id}` fetches its outcome" in err

    assert run_cli("up", env=own_root, timeout=180).returncode == 0
    got = run_cli("get", run_id, env=own_root)
    assert got.returncode == 1
    assert "the daemon stopped while this run was running" in got.stderr
