"""One real sshd on 127.0.0.1 and one SSH cluster on it, shared by the whole session.

The "remote" side is this machine reached over SSH: the sshd runs from a temporary config
with a throw-away host key, user key and known_hosts, and the cluster's rhcli root is a
temporary folder that does not exist yet, so the session's first `up` is the bootstrap
from an empty root into a fresh venv (real pip, from the local pip cache). At the end the
cluster is brought down, sshd stopped, and no process of that root may be left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import processes_of_root
from tests.support.environ import restore, snapshot
from tests.support.sshd import SSHHost, start_sshd

# Figures measured by the tests, printed at the end of the session (and quoted in
# docs/ssh.md).
FIGURES: dict[str, str] = {}


@dataclass
class Box:
    """The session's SSH cluster and what its first `up` found and made."""

    host: SSHHost
    root: Path  # the cluster's rhcli root ("remote", but on this machine)
    cluster: Any
    first_up_s: float
    made_by_first_up: dict[str, bool] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.host.port

    def daemon(self) -> dict[str, Any]:
        return dict(json.loads((self.root / "daemon.json").read_text()))

    def manifest(self, project: Path, name: str = "box") -> Path:
        """A runhouse.yaml in project naming this host as an ssh cluster (the default)."""
        path = project / "runhouse.yaml"
        path.write_text(
            f"default_cluster: {name}\n"
            "clusters:\n"
            f"  {name}:\n"
            "    type: ssh\n"
            "    host: 127.0.0.1\n"
            f"    port: {self.port}\n"
            "    user: root\n"
            f"    key: {self.host.user_key}\n"
            f"    home: {self.root}\n"
        )
        return path


def record(name: str, value: str) -> None:
    FIGURES[name] = value


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("ssh cluster figures (loopback sshd)")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def sshd_host() -> Iterator[SSHHost]:
    """A real sshd on 127.0.0.1, and the environment that makes rhcli trust only it.

    RHCLI_KNOWN_HOSTS points at the sshd's known_hosts and RHCLI_SSH_CONFIG at a file that
    does not exist, so the user's ~/.ssh is never read; both are restored at the end.
    """
    directory = Path(tempfile.mkdtemp(prefix="rhcli-test-sshd-"))
    host = start_sshd(directory)
    saved = snapshot(("RHCLI_KNOWN_HOSTS", "RHCLI_SSH_CONFIG"))
    os.environ["RHCLI_KNOWN_HOSTS"] = str(host.known_hosts)
    os.environ["RHCLI_SSH_CONFIG"] = str(directory / "no-ssh-config")
    try:
        yield host
    finally:
        host.stop()
        restore(saved)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def box(sshd_host: SSHHost) -> Iterator[Box]:
    """The session's SSH cluster, brought up once from an empty root."""
    import rhcli as rh

    root = Path(tempfile.mkdtemp(prefix="rhcli-test-remote-")) / "root"
    assert not root.exists()
    cluster = rh.cluster(
        name="box",
        host="127.0.0.1",
        port=sshd_host.port,
        user="root",
        key=str(sshd_host.user_key),
        home=str(root),
    )
    started = time.monotonic()
    try:
        cluster.up()
        first_up_s = time.monotonic() - started
        record("first up from an empty root", f"{first_up_s:.1f} s")
        made = {
            "venv": (root / "venv" / "bin" / "python").is_file(),
            "installed.json": (root / "installed.json").is_file(),
            "daemon.json": (root / "daemon.json").is_file(),
        }
        yield Box(sshd_host, root, cluster, first_up_s, made)
    finally:
        cluster.down()
        cluster.connection().close()
        sshd_host.stop()
        deadline = time.monotonic() + 10
        left = processes_of_root(root)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = processes_of_root(root)
        shutil.rmtree(root.parent, ignore_errors=True)
        assert not left, f"processes of the remote root {root} left behind: {left}"


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """An empty git repository (a user's project) with a name unique to the test."""
    project = tmp_path / f"proj-{tmp_path.name}"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    return project
