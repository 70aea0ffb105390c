"""Read-only commands (`runs`, `get`, `logs`, `status`, and `cancel`) start nothing: no
daemon, no cluster, not SkyPilot's API server. They say what is down and how to start
it, with exit code 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, processes_of_root, run_cli
from tests.sky.launcher import DIR_ENV, SERVER_DOWN, SERVER_STARTED

RUN_ID = "add-20260101-000000-0123456789ab"
READ_ONLY = [
    ["runs"],
    ["runs", "--status", "failed"],
    ["get", RUN_ID],
    ["get", "last"],
    ["logs", RUN_ID],
    ["logs", "-f", "last"],
    ["cancel", RUN_ID],
    ["status"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_starts_no_local_daemon(args: list[str], tmp_path: Path) -> None:
    root = tmp_path / "root"  # a root where no daemon ever ran
    done = run_cli(*args, cwd=tmp_path, env={"RHCLI_HOME": str(root)})
    assert done.returncode == 3, done.stderr
    assert "start it with `rhcli up local`" in done.stdout + done.stderr
    assert "Starting the rhcli daemon" not in done.stderr
    assert not (root / "daemon.json").exists()
    assert processes_of_root(root) == []


def test_with_json_a_read_only_command_prints_the_error_document(tmp_path: Path) -> None:
    done = run_cli("--json", "runs", cwd=tmp_path, env={"RHCLI_HOME": str(tmp_path / "r")})
    assert done.returncode == 3
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "rhcli.errors.DaemonNotRunningError"
    assert error["exit_code"] == 3
    assert "rhcli up local" in error["message"]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_read_only_command_of_a_sky_cluster_leaves_skypilots_api_server_down(
    args: list[str], tmp_path: Path
) -> None:
    # The tests' SkyPilot boundary, with its API server down: a SkyPilot call would
    # start it (the launcher notes that), a read-only command must not make one.
    sky_dir = tmp_path / "sky"
    sky_dir.mkdir()
    (sky_dir / SERVER_DOWN).write_text("")
    project = tmp_path / "project"
    project.mkdir()
    (project / "runhouse.yaml").write_text(
        "default_cluster: sky1\n"
        "clusters:\n"
        '  sky1: {type: sky, instance_type: "A10G:1", provider: aws}\n'
    )
    env = {
        "RHCLI_HOME": str(tmp_path / "root"),
        "RHCLI_SKY_LAUNCHER": "tests.sky.launcher:LoopbackLauncher",
        DIR_ENV: str(sky_dir),
        "PYTHONPATH": str(REPO),  # the launcher lives in tests/
    }
    done = run_cli(*args, cwd=project, env=env)
    assert done.returncode == 3, done.stderr
    said = done.stdout + done.stderr
    assert "SkyPilot's API server" in said and "`sky api start` starts it" in said
    assert not (sky_dir / SERVER_STARTED).exists()
    assert (sky_dir / SERVER_DOWN).exists()
