"""An SSH cluster on a real sshd (127.0.0.1): bootstrap, calls through the tunnel, status,
commands, down, a version mismatch, and the CLI against a `type: ssh` manifest."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import rhcli as rh
from rhcli._version import __version__
from rhcli.clusters.ssh import SSHCluster
from rhcli.errors import ExitCode, VersionMismatchError
from tests.conftest import run_cli
from tests.fixtures import funcs
from tests.ssh.conftest import Box, record


def _alive(pid: int) -> bool:
    """Running (a zombie is not: the host's init may be slow to reap, or never reap)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_the_first_up_from_an_empty_root_makes_a_venv_installs_rhcli_and_starts_the_daemon(
    box: Box,
) -> None:
    assert box.made_by_first_up == {"venv": True, "installed.json": True, "daemon.json": True}
    installed = json.loads((box.root / "installed.json").read_text())
    assert installed["version"] == __version__
    # The venv's site-packages points at the shipped tree of exactly this client's build.
    assert (box.root / "pkg" / installed["build"] / "rhcli" / "clusters" / "ssh.py").is_file()
    daemon = box.daemon()
    assert daemon["version"] == __version__
    assert _alive(daemon["pid"])
    # A real bootstrap (venv + pip) takes seconds, not the milliseconds of a no-op.
    assert box.first_up_s > 3


def test_a_second_up_with_nothing_changed_installs_nothing_and_keeps_the_daemon(
    box: Box, capfd: pytest.CaptureFixture[str]
) -> None:
    installed = (box.root / "installed.json").stat().st_mtime_ns
    pid = box.daemon()["pid"]
    started = time.monotonic()
    box.cluster.up()
    elapsed = time.monotonic() - started
    # Its time is a benchmark figure (benchmarks/ssh_latency.py), not an assertion: a timed
    # test only measures how busy the machine is.
    record("second up, nothing changed", f"{elapsed:.2f} s")
    assert (box.root / "installed.json").stat().st_mtime_ns == installed
    assert box.daemon()["pid"] == pid  # not restarted
    assert "installing" not in capfd.readouterr().err


def test_a_blocking_call_runs_on_the_host_through_the_tunnel(box: Box) -> None:
    assert rh.function(funcs.add, system=box.cluster)(1, 2) == 3
    # It ran in a worker of the SSH cluster's daemon, not in this process.
    assert rh.function(funcs.pid, system=box.cluster)() != os.getpid()


def test_remote_returns_a_ref_whose_result_rh_get_fetches(box: Box) -> None:
    ref = rh.function(funcs.sleep_then, system=box.cluster).remote(0.2, value="late")
    assert rh.get(ref) == "late"


def test_map_returns_the_results_in_input_order(box: Box) -> None:
    assert rh.function(funcs.add, system=box.cluster).map([1, 2, 3], [10, 20, 30]) == [11, 22, 33]


def test_enqueued_calls_run_in_order_and_return_their_results(box: Box) -> None:
    ticks = rh.function(funcs.ticks, system=box.cluster)
    assert [ticks.enqueue(n, 0) for n in (1, 2, 3)] == [1, 2, 3]


def test_stream_logs_prints_the_runs_output_here(
    box: Box, capsys: pytest.CaptureFixture[str]
) -> None:
    shout = rh.function(funcs.shout, system=box.cluster)
    assert shout(7, stream_logs=True) == 7
    captured = capsys.readouterr()
    assert captured.out == "item says 7\n"
    assert captured.err == "item warns 7\n"


def test_an_exception_raised_on_the_host_arrives_as_its_own_type(box: Box) -> None:
    with pytest.raises(funcs.CustomError, match="broke over ssh"):
        rh.function(funcs.fail, system=box.cluster)("broke over ssh")


def test_every_call_reuses_one_ssh_connection_and_one_tunnel(box: Box) -> None:
    add = rh.function(funcs.add, system=box.cluster)
    add(0, 0)
    connection, tunnel, client = box.cluster.connection(), box.cluster._tunnel, box.cluster.client()
    transport = connection.transport
    for i in range(5):
        assert add(i, i) == 2 * i
    rh.get(add.remote(1, 1))
    add.map([1, 2], [3, 4])
    assert box.cluster.connection() is connection
    assert connection.transport is transport
    assert box.cluster._tunnel is tunnel
    assert box.cluster.client() is client
    # The same name and settings give the same cluster object (and so the same tunnel).
    again = rh.cluster(
        name="box",
        host="127.0.0.1",
        port=box.port,
        user="root",
        key=str(box.host.user_key),
        home=str(box.root),
    )
    assert again is box.cluster


def test_status_reports_up_with_the_remote_root_and_the_daemons_version(box: Box) -> None:
    state = box.cluster.status()
    assert state.up
    assert state.type == "ssh"
    assert state.home == str(box.root)
    assert state.version == __version__
    assert state.pid == box.daemon()["pid"]
    assert state.address == f"root@127.0.0.1:{box.port}"


def test_run_returns_each_commands_exit_code_stdout_and_stderr(box: Box) -> None:
    ok, failed = box.cluster.run(["echo hi", "echo oops >&2; exit 3"])
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "hi\n", "")
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, "", "oops\n")


def test_a_daemon_of_another_version_fails_the_call_with_exit_3_naming_both_versions_and_up(
    box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = box.daemon()["pid"]
    installed = (box.root / "installed.json").read_text()
    monkeypatch.setattr("rhcli.clusters.base.__version__", "9.9.9")
    newer = SSHCluster(
        "box-new",
        host="127.0.0.1",
        port=box.port,
        user="root",
        key=str(box.host.user_key),
        home=str(box.root),
    )
    try:
        with pytest.raises(VersionMismatchError) as caught:
            rh.function(funcs.add, system=newer)(1, 2)
    finally:
        newer.reset_client()
        newer.connection().close()
    message = str(caught.value)
    assert "9.9.9" in message and __version__ in message
    assert "rhcli up box-new" in message
    assert caught.value.exit_code == ExitCode.UNREACHABLE == 3
    # Nothing was restarted or reinstalled behind the user's back.
    assert box.daemon()["pid"] == pid and _alive(pid)
    assert (box.root / "installed.json").read_text() == installed


def test_the_cli_runs_a_function_on_a_type_ssh_cluster_of_the_manifest(
    box: Box, git_project: Path
) -> None:
    (git_project / "calc.py").write_text("def mul(a, b):\n    return a * b\n")
    box.manifest(git_project)
    done = run_cli("-c", "box", "run", "calc:mul", "6", "7", cwd=git_project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    status = run_cli("status", "box", cwd=git_project)
    assert status.returncode == 0, status.stderr
    assert "box (ssh): up" in status.stdout
    assert str(box.root) in status.stdout


def test_status_of_an_ssh_cluster_shows_its_queue_depths(
    box: Box, git_project: Path, tmp_path: Path
) -> None:
    counter, gate = tmp_path / "count", tmp_path / "gate"
    fn = rh.function(funcs.count_then_wait, system=box.cluster, name="ssh_queue_probe")
    # One run holds the queue until the gate opens; one waits behind it.
    first = fn.call_raw((str(counter), str(gate)), {}, enqueue=True, detach=True).run_id
    second = fn.call_raw((str(counter), str(gate), 2), {}, enqueue=True, detach=True).run_id
    try:
        assert box.cluster.status().queue_depths == {"ssh_queue_probe": 2}
        box.manifest(git_project)
        human = run_cli("status", "box", cwd=git_project)
        assert human.returncode == 0, human.stderr
        assert "queue      ssh_queue_probe: 2" in human.stdout
        document = json.loads(run_cli("--json", "status", "box", cwd=git_project).stdout)
        assert document["queue_depths"] == {"ssh_queue_probe": 2}
    finally:
        gate.touch()
    assert rh.get(second, cluster=box.cluster) == 2
    assert rh.get(first, cluster=box.cluster) is None
    assert "ssh_queue_probe" not in box.cluster.status().queue_depths


def test_down_stops_the_daemon_and_leaves_sshd_up_and_up_starts_it_again(box: Box) -> None:
    pid = box.daemon()["pid"]
    installed = (box.root / "installed.json").stat().st_mtime_ns
    assert box.cluster.down() is True
    assert not _alive(pid)
    assert box.host.process.poll() is None  # sshd still serves
    assert box.cluster.run(["true"])[0].returncode == 0
    assert box.cluster.status().up is False
    assert box.cluster.down() is False  # nothing left to stop
    box.cluster.up()  # starts a daemon again, without reinstalling
    assert box.daemon()["pid"] != pid
    assert (box.root / "installed.json").stat().st_mtime_ns == installed
    assert rh.function(funcs.add, system=box.cluster)(2, 2) == 4
