"""A map that outlives its SSH host's daemon: the daemon and its Ray are killed with
kill -9 in the middle of a `rhcli map` on the session's SSH cluster (`box`). The map must
end with exit 3 and the command that resumes it; `rhcli up` brings the host back; the
resume then writes every item exactly once, and no item that had succeeded runs again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rhcli.errors import ExitCode
from tests.conftest import REPO, processes_of_root, run_cli
from tests.fixtures import batch

ITEMS = 80


def _succeeded_in_store(root: Path, map_id: str) -> set[int]:
    """The items the host's run store holds as succeeded (read after its daemon died)."""
    db = sqlite3.connect(root / "runs.sqlite")
    try:
        rows = db.execute(
            "SELECT run_id FROM runs WHERE parent = ? AND status = 3", (map_id,)
        ).fetchall()
    finally:
        db.close()
    return {int(run_id.rsplit(".", 1)[1]) for (run_id,) in rows}


def test_a_map_whose_host_daemon_is_killed_resumes_after_up_with_every_item_once(
    box: Any, git_project: Path, tmp_path: Path
) -> None:
    manifest = box.manifest(git_project)
    log, out, inputs = tmp_path / "log", tmp_path / "out.jsonl", tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps([i, str(log), 0.1]) + "\n" for i in range(ITEMS)))
    map_id = f"ssh-killed-{os.getpid()}-{time.monotonic_ns()}"
    rhcli = str(Path(sys.executable).parent / "rhcli")
    argv = ["-f", str(manifest), "map", "tests.fixtures.batch:record", "-i", str(inputs)]
    argv += ["-o", str(out)]
    client = subprocess.Popen(
        [rhcli, *argv, "--id", map_id],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not out.exists() or len(out.read_text().splitlines()) < 10:
            assert client.poll() is None, f"the map ended early: {client.stderr}"
            assert time.monotonic() < deadline, "no results came"
            time.sleep(0.05)
        for pid in processes_of_root(box.root):  # the host's daemon and its Ray
            os.kill(pid, signal.SIGKILL)
        _, stderr = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode == ExitCode.UNREACHABLE, stderr
    (error,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    command = error.split("Resume it with `", 1)[1].split("`", 1)[0]
    assert command.endswith(f"--resume {map_id}")
    done_before = _succeeded_in_store(box.root, map_id)
    ran_before = batch.executions(str(log))
    assert done_before, "nothing had succeeded before the kill"

    up = run_cli("-f", str(manifest), "up", "box", cwd=REPO, timeout=300)
    assert up.returncode == 0, up.stderr
    again = run_cli(*command.split()[1:], cwd=REPO, timeout=300)

    assert again.returncode == 0, again.stderr
    assert out.read_text().splitlines() == [str(2 * i) for i in range(ITEMS)]
    ran = batch.executions(str(log))
    assert sorted(ran) == list(range(ITEMS))
    assert {i: ran[i] for i in done_before} == {i: ran_before[i] for i in done_before}
    box.cluster.reset_client()  # the session's connection named the killed daemon
