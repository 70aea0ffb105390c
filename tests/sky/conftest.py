"""A sky cluster whose launcher (the one part replaced) "provisions" a loopback sshd.

The session gets its own throw-away sshd on 127.0.0.1 and a cluster root on this machine
that already holds this very rhcli build: its venv is the test venv (a symlink) and its
installed.json names the current build, so the first `up` after the "launch" finds rhcli
installed, as on a host that has it, and goes straight on to starting the daemon (the
40 s first install is tested by tests/ssh). Everything after the launch is real: SSH with
a host key learnt on first use, the daemon and its Ray, the tunnel, rsync, calls, the
keep-alive with SkyPilot's own idle-timer code (on a HOME of the test's), and down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, processes_of_root
from tests.sky.launcher import DIR_ENV
from tests.support.environ import restore, snapshot
from tests.support.seeded_root import seed_root
from tests.support.sshd import SSHHost, start_sshd


@dataclass
class SkyBox:
    """The session's sky cluster `sky1`, declared in `project`'s runhouse.yaml."""

    host: SSHHost
    directory: Path  # the test launcher's state and the skylet's HOME
    root: Path  # the cluster's rhcli root (on this machine)
    project: Path
    manifest: Path
    env: dict[str, str]  # for CLI subprocesses

    def autostop(self) -> None:
        """As if SkyPilot autostopped the VM: its daemon and sshd stop, the record says
        STOPPED; a later launch "starts" it as a new sshd (new port, new host key)."""
        from tests.sky.launcher import LoopbackLauncher

        _stop_daemon_of(self.root)
        self.host.stop()  # a stopped VM drops its SSH sessions too: stop() ends them
        LoopbackLauncher(cluster="sky1", state_dir=self.directory).stop("sky1")
        self.host = start_sshd(self.directory / f"sshd-{time.monotonic_ns()}")
        (self.directory / "host.json").write_text(
            json.dumps({"port": self.host.port, "key": str(self.host.user_key)})
        )

    def launcher_state(self) -> dict[str, dict[str, object]]:
        path = self.directory / "state.json"
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def skylet_last_active(self) -> float:
        """SkyPilot's own reading of its idle timer on the "head node" (-1: never set)."""
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from sky.skylet import autostop_lib; print(autostop_lib.get_last_active_time())",
            ],
            env={**os.environ, "HOME": str(self.directory / "skylet-home")},
            capture_output=True,
            text=True,
            check=True,
        )
        return float(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="package", autouse=True)
def sky_home() -> Iterator[Path]:
    """SkyPilot writes ~/.sky as soon as it is imported: HOME is a folder of the tests'
    while they run (rhcli itself goes by RHCLI_HOME and RHCLI_SSH_CONFIG)."""
    home = Path(tempfile.mkdtemp(prefix="rhcli-test-sky-home-"))
    saved = snapshot(("HOME",))
    os.environ["HOME"] = str(home)
    try:
        yield home
    finally:
        restore(saved)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="package")
def skybox() -> Iterator[SkyBox]:
    import rhcli.clusters.sky

    directory = Path(tempfile.mkdtemp(prefix="rhcli-test-sky-"))
    host = start_sshd(directory / "sshd")
    root = directory / "root"
    seed_root(root)
    (directory / "host.json").write_text(json.dumps({"port": host.port, "key": str(host.user_key)}))
    project = directory / "proj"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "jobs.py").write_text(
        "import os, time\n\n"
        "def where(x):\n    return {'x': x, 'home': os.environ.get('RHCLI_HOME')}\n\n"
        "def nap(seconds):\n    time.sleep(seconds)\n    return seconds\n"
    )
    manifest = project / "runhouse.yaml"
    manifest.write_text(
        "default_cluster: sky1\n"
        "clusters:\n"
        "  sky1:\n"
        "    type: sky\n"
        '    instance_type: "A10G:1"\n'
        "    provider: aws\n"
        "    autostop_mins: 30\n"
        f"    home: {root}\n"
        "functions:\n"
        "  where: {entrypoint: 'jobs:where'}\n"
        "  nap: {entrypoint: 'jobs:nap'}\n"
    )
    env = {
        DIR_ENV: str(directory),
        "RHCLI_SKY_LAUNCHER": "tests.sky.launcher:LoopbackLauncher",
        "RHCLI_SSH_CONFIG": str(directory / "no-ssh-config"),
    }
    saved = snapshot(env)
    os.environ.update(env)
    saved_poll = rhcli.clusters.sky.KEEPALIVE_POLL_S
    rhcli.clusters.sky.KEEPALIVE_POLL_S = 0.5
    box = SkyBox(host, directory, root, project, manifest, {**env, "PYTHONPATH": str(REPO)})
    try:
        yield box
    finally:
        rhcli.clusters.sky.KEEPALIVE_POLL_S = saved_poll
        _stop_daemon_of(root)
        host.stop()
        box.host.stop()
        deadline = time.monotonic() + 10
        left = processes_of_root(root)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = processes_of_root(root)
        restore(saved)
        shutil.rmtree(directory, ignore_errors=True)
        assert not left, f"processes of the sky cluster's root {root} left behind: {left}"


def _stop_daemon_of(root: Path) -> None:
    """A daemon a failed test left running: stop it as `down` would (SIGTERM, wait)."""
    try:
        pid = int(json.loads((root / "daemon.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
