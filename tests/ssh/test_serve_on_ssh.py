"""HTTP endpoints on the session's SSH cluster (a loopback sshd): the URL `rhcli serve`
prints is a local port forwarded over SSH by a process of its own, so it answers after
the command has exited; unserving the cluster's last endpoint ends that forward.

The first serve installs Ray Serve into the cluster's venv (real pip), as on a new host.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import processes_of_root, run_cli
from tests.ssh.conftest import Box, record
from tests.support.http import answers, request


def _forward_states(home: Path) -> list[dict[str, int]]:
    return [json.loads(p.read_text()) for p in (home / "forwards").glob("*.json")]


def _alive(pid: int) -> bool:
    try:
        return b"rhcli.transport.http_forward" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_the_url_serve_printed_answers_through_the_ssh_forward_after_it_exits(
    box: Box, git_project: Path, session_home: Path
) -> None:
    (git_project / "svc.py").write_text("def square(x):\n    return x * x\n")
    box.manifest(git_project)
    started = time.monotonic()
    done = run_cli("--json", "serve", "svc:square", "--cpus", "0.25", cwd=git_project, timeout=900)
    assert done.returncode == 0, done.stderr
    record("first serve (Ray Serve installed on the host)", f"{time.monotonic() - started:.1f} s")
    served = json.loads(done.stdout)
    assert served["cluster"] == "box" and served["status"] == "running"
    assert request(served["url"], {"x": 5}, token=served["token"]) == (200, 25)
    assert request(served["url"], {"x": 5})[0] == 401
    (state,) = _forward_states(session_home)
    assert _alive(state["pid"]) and urlsplit(served["url"]).port == state["local_port"]
    assert state["local_port"] != state["remote_port"]  # a forward, not Serve's own port

    # A holder that died is started again, on the same local port: the URL still holds.
    os.kill(state["pid"], signal.SIGKILL)
    listed = run_cli("--json", "endpoints", cwd=git_project)
    assert listed.returncode == 0, listed.stderr
    assert [e["url"] for e in json.loads(listed.stdout)] == [served["url"]]
    assert request(served["url"], [7], token=served["token"]) == (200, 49)

    (state,) = _forward_states(session_home)
    ended = run_cli("unserve", "square", cwd=git_project)
    assert ended.returncode == 0, ended.stderr
    assert not answers(served["url"])
    deadline = time.monotonic() + 10
    while _alive(state["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(state["pid"]) and _forward_states(session_home) == []


def test_endpoints_of_a_cluster_whose_daemon_is_up_but_serves_none_is_an_empty_list(
    box: Box, git_project: Path
) -> None:
    box.manifest(git_project)
    listed = run_cli("--json", "endpoints", cwd=git_project)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_down_ends_the_endpoints_and_the_forward_and_leaves_no_process(
    box: Box, git_project: Path, session_home: Path
) -> None:
    (git_project / "svc.py").write_text("def square(x):\n    return x * x\n")
    box.manifest(git_project)
    try:
        done = run_cli(
            "--json", "serve", "svc:square", "--cpus", "0.25", cwd=git_project, timeout=900
        )
        assert done.returncode == 0, done.stderr
        served = json.loads(done.stdout)
        assert request(served["url"], [4], token=served["token"]) == (200, 16)
        (state,) = _forward_states(session_home)
        down = run_cli("down", cwd=git_project, timeout=300)
        assert down.returncode == 0, down.stderr
        assert not answers(served["url"])
        deadline = time.monotonic() + 20
        while (_alive(state["pid"]) or processes_of_root(box.root)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(state["pid"]) and _forward_states(session_home) == []
        assert processes_of_root(box.root) == []  # the daemon, Ray, Serve's proxy, replicas
    finally:
        box.cluster.up()  # the session's later tests use the box
