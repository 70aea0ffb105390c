"""One SSH connection per cluster, kept across processes (rhcli.transport.ssh_master) and
what a process leaves the next (rhcli.clusters.ssh_warm): a new process reaches the
daemon through the master without paramiko, a probe or an rsync; the holder's files
are private; it ends after its idle time or with `down`; a state that no longer holds
sends a process down the full path, which renews it."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import rhcli as rh
from rhcli.clusters.ssh import SSHCluster
from rhcli.errors import UsageError
from rhcli.transport.ssh_master import IDLE_ENV, Master
from tests.conftest import run_cli
from tests.fixtures import funcs
from tests.ssh.conftest import Box

CALC = "def mul(a, b):\n    return a * b\n"


def _other(box: Box, name: str) -> SSHCluster:
    """Another cluster object (its own master and state) on the same host and root."""
    return SSHCluster(
        name,
        host="127.0.0.1",
        port=box.port,
        user="root",
        key=str(box.host.user_key),
        home=str(box.root),
    )


def _drop(cluster: SSHCluster) -> None:
    """End what a test's own cluster object opened (its daemon is the session's)."""
    cluster.reset_client()
    cluster.master().close()
    cluster.warm_store().forget()
    if cluster._conn is not None:
        cluster._conn.close()


def _in_new_process(project: Path, *args: str) -> dict[str, Any]:
    """`rhcli ARGS` run by main() in a new process: its exit code, output and whether it
    imported paramiko (the full path's SSH client: a probe, a handshake)."""
    script = (
        "import json, sys\n"
        "from rhcli.cli.main import main\n"
        "code = 0\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "sys.stdout.flush()\n"
        "print('\\nREPORT ' + json.dumps({'code': code, 'paramiko': 'paramiko' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, capture_output=True, text=True, timeout=120
    )
    *out, report = done.stdout.rstrip("\n").split("\n")
    assert report.startswith("REPORT "), done.stderr
    return {**json.loads(report[len("REPORT ") :]), "stdout": "\n".join(out), "stderr": done.stderr}


def _masters(control: Path) -> list[int]:
    """Pids of ssh processes that are masters at control."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"ssh") and f"ControlPath={control}".encode() in argv:
            if b"ControlMaster=yes" in argv:
                found.append(int(entry.name))
    return found


def test_a_new_process_calls_through_the_master_with_no_paramiko_probe_or_rsync(
    box: Box, git_project: Path
) -> None:
    (git_project / "calc.py").write_text(CALC)
    box.manifest(git_project)
    first = run_cli("run", "calc:mul", "6", "7", cwd=git_project)  # syncs, keeps the state
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "42"
    # A file rsync --delete would remove: it stays while nothing is synced.
    stray = Path(box.cluster.code_root(git_project)) / "stray.txt"
    stray.write_text("left alone\n")

    again = _in_new_process(git_project, "run", "calc:mul", "6", "7")
    assert again["code"] == 0, again["stderr"]
    assert again["stdout"].strip() == "42"
    assert again["paramiko"] is False  # no SSH handshake of its own, no probe
    assert stray.exists()  # no rsync: the fingerprint said nothing changed

    (git_project / "calc.py").write_text(CALC.replace("a * b", "a * b + 1"))
    edited = _in_new_process(git_project, "run", "calc:mul", "6", "7")
    assert edited["code"] == 0, edited["stderr"]
    assert edited["stdout"].strip() == "43"  # the edit was synced
    assert not stray.exists()


def test_up_of_an_unchanged_cluster_in_a_new_process_connects_through_the_master(
    box: Box, git_project: Path
) -> None:
    box.manifest(git_project)
    assert run_cli("up", cwd=git_project).returncode == 0
    pid = box.daemon()["pid"]
    done = _in_new_process(git_project, "up")
    assert done["code"] == 0, done["stderr"]
    assert "box (ssh): up" in done["stdout"]
    assert done["paramiko"] is False
    assert box.daemon()["pid"] == pid


def test_the_holders_sockets_and_state_are_the_users_alone(box: Box) -> None:
    assert rh.function(funcs.add, system=box.cluster)(1, 2) == 3
    master = box.cluster.master()
    assert master.alive()
    assert stat.S_IMODE(master.folder.stat().st_mode) == 0o700
    forwards = list(master.folder.glob(f"{master.key}-*"))
    assert forwards, "the daemon is reached through a forward of the master"
    for path in [master.control, *forwards, box.cluster.warm_store().path]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_processes_starting_at_once_share_one_master(box: Box, git_project: Path) -> None:
    (git_project / "calc.py").write_text(CALC)
    box.manifest(git_project)
    assert run_cli("run", "calc:mul", "2", "3", cwd=git_project).returncode == 0
    box.cluster.reset_client()  # this process's connection through the forward
    box.cluster.master().close()
    assert not box.cluster.master().alive()
    rhcli = Path(sys.executable).parent / "rhcli"
    started = [
        subprocess.Popen(
            [str(rhcli), "run", "calc:mul", str(n), "3"],
            cwd=git_project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [process.communicate(timeout=120) for process in started]
    assert [p.returncode for p in started] == [0, 0, 0], [err for _, err in outputs]
    assert sorted(int(out) for out, _ in outputs) == [0, 3, 6]
    assert len(_masters(box.cluster.master().control)) == 1


def test_the_master_ends_after_the_idle_time_and_the_next_call_starts_another(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "1")
    cluster = _other(box, "box-idle")
    try:
        add = rh.function(funcs.add, system=cluster)
        assert add(1, 1) == 2
        master = cluster.master()
        assert master.alive()
        cluster.reset_client()  # closes this process's connection through the master
        deadline = time.monotonic() + 20
        while master.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not master.alive(), "the master outlived its idle time"
        assert add(2, 2) == 4  # a new master, and the warm state still holds
        assert master.alive()
    finally:
        _drop(cluster)


def test_a_stale_state_sends_the_process_down_the_full_path_which_renews_it(box: Box) -> None:
    assert rh.function(funcs.add, system=box.cluster)(1, 2) == 3
    store = box.cluster.warm_store()
    good = store.load()
    assert good is not None
    for stale in ({"token": "not-the-token"}, {"port": good.port + 1}):
        document = json.loads(store.path.read_text())
        store.path.write_text(json.dumps({**document, **stale}))
        cluster = _other(box, "box")  # the same settings: the same state file
        try:
            assert rh.function(funcs.add, system=cluster)(2, 3) == 5
        finally:
            cluster.reset_client()
        renewed = store.load()
        assert renewed is not None
        assert (renewed.token, renewed.port) == (good.token, good.port)


def test_down_ends_the_holder_and_forgets_the_state(box: Box) -> None:
    assert rh.function(funcs.add, system=box.cluster)(1, 2) == 3
    master = box.cluster.master()
    control = master.control
    assert master.alive() and _masters(control)
    assert box.cluster.down() is True
    assert not control.exists()
    assert not list(master.folder.glob(f"{master.key}-*"))
    assert not box.cluster.warm_store().path.exists()
    deadline = time.monotonic() + 10
    while _masters(control) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _masters(control)
    box.cluster.up()
    assert rh.function(funcs.add, system=box.cluster)(2, 2) == 4


def test_an_idle_time_that_is_not_a_number_of_seconds_is_refused_by_name(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "soon")
    cluster = _other(box, "box-bad-idle")
    try:
        with pytest.raises(UsageError, match=IDLE_ENV):
            rh.function(funcs.add, system=cluster)(1, 2)
    finally:
        _drop(cluster)


def test_a_master_whose_socket_path_is_too_long_is_not_started(tmp_path: Path, box: Box) -> None:
    deep = tmp_path / ("d" * 120)
    master = Master("k" * 16, box.cluster.target, folder=deep)
    assert not master.usable
    assert not master.ensure()
    assert not deep.exists()


def test_without_a_usable_master_a_process_uses_its_own_tunnel_and_keeps_no_state(
    box: Box, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 120)  # a socket path there would pass the unix limit
    for module in ("rhcli.clusters.ssh", "rhcli.transport.ssh_master"):  # state and master
        monkeypatch.setattr(f"{module}.control_dir", lambda: deep)
    cluster = _other(box, "box-no-master")
    try:
        assert rh.function(funcs.add, system=cluster)(3, 4) == 7
        assert cluster._tunnel is not None  # paramiko's forward, in this process
        assert not cluster.warm_store().path.exists()
        assert not cluster.master().alive()
    finally:
        _drop(cluster)
