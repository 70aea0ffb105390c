"""The dashboard watches and never brings a cluster up: a cluster that is down is shown
as down, with the command that starts it, and picked up once it is up."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.conftest import processes_of_root, run_cli
from tests.support.dashboard import running_dashboard


def test_a_down_cluster_is_shown_down_and_picked_up_once_up(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="rhcli-test-down-home-"))
    env = {"RHCLI_HOME": str(root)}
    try:
        with running_dashboard(cwd=tmp_path, env=env) as dashboard:
            events = dashboard.events("/api/runs/events", timeout=180)
            name, data = next(events)
            assert name == "failure"
            assert "local is down" in data["message"] and "rhcli up local" in data["message"]
            assert not (root / "daemon.json").exists()  # watching started nothing
            up = run_cli("up", "local", cwd=tmp_path, env=env, timeout=180)
            assert up.returncode == 0, up.stderr
            name, data = next(events)  # the same stream, no reload
            assert (name, data) == ("runs", [])
            events.close()
    finally:
        run_cli("down", "local", cwd=tmp_path, env=env)
        left = processes_of_root(root)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, left
