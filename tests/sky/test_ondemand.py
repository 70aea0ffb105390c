"""An on-demand cluster end to end, SkyPilot replaced at its one boundary by the test
launcher: the first call launches it, then bootstrap, tunnel, sync, calls, the autostop
keep-alive, `rhcli status/autostop/down` all run for real against a loopback sshd."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rhcli as rh
from rhcli.clusters import registry
from rhcli.clusters.multinode import MultiNodeSSHCluster
from rhcli.clusters.sky import OnDemandCluster
from rhcli.clusters.sky_launcher import SkyRecord
from rhcli.clusters.ssh import SSHCluster
from rhcli.errors import ExitCode, NotSupportedError
from tests.conftest import processes_of_root, run_cli
from tests.sky.conftest import SkyBox
from tests.sky.launcher import LoopbackLauncher


def _fresh(skybox: SkyBox) -> OnDemandCluster:
    """The cluster as a new process would build it (no cached object, no connection)."""
    registry.forget_all()
    cluster = rh.cluster("sky1", manifest=str(skybox.manifest))
    assert isinstance(cluster, OnDemandCluster)
    return cluster


def test_the_first_call_launches_the_cluster_then_runs_on_it_over_ssh(
    skybox: SkyBox, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(skybox.project)
    cluster = _fresh(skybox)
    assert skybox.launcher_state() == {}
    assert not cluster.is_up()  # asking launches nothing
    assert skybox.launcher_state() == {}

    where = rh.function("jobs:where", system=cluster, reqs=[])
    assert where(7) == {"x": 7, "home": str(skybox.root)}  # ran under the cluster's root

    state = skybox.launcher_state()["sky1"]
    assert state["launches"] == 1
    # What the launcher got is the real translation of the manifest entry.
    assert state["resources"] == "AWS({'A10G': 1})"
    assert state["autostop"] == 30
    assert "launching through SkyPilot (A10G:1 on aws)" in capfd.readouterr().err
    # The fresh VM's host key was learnt on first use into the cluster's own file, and it
    # is the key the sshd really has.
    known = cluster.known_hosts.read_text().split()
    host_pub = (skybox.host.host_key.parent / "host_key.pub").read_text().split()
    assert known[1:3] == host_pub[0:2]


def test_a_cluster_that_is_up_is_reused_never_relaunched(
    skybox: SkyBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(skybox.project)
    daemon = json.loads((skybox.root / "daemon.json").read_text())
    cluster = _fresh(skybox)
    where = rh.function("jobs:where", system=cluster, reqs=[])
    assert where(8)["x"] == 8
    assert skybox.launcher_state()["sky1"]["launches"] == 1
    assert json.loads((skybox.root / "daemon.json").read_text())["pid"] == daemon["pid"]


def test_a_detached_run_keeps_skypilots_idle_timer_reset_until_it_ends(
    skybox: SkyBox,
) -> None:
    submitted = time.time()
    # The CLI process ends at once: only the cluster side knows the run is in flight.
    done = run_cli("run", "nap", "3", "--detach", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    assert rh.get(run_id, cluster=_fresh(skybox)) == 3
    ended = time.time()
    time.sleep(1.5)  # three polls of the keep-alive with nothing in flight
    last_active = skybox.skylet_last_active()  # as SkyPilot's own code reads it
    assert last_active > submitted, "the keep-alive never reset the idle timer"
    assert last_active > ended - 1.0, "the timer was not kept reset until the run ended"
    assert last_active < ended + 1.0, "the timer was still reset after the run ended"


def test_a_cluster_that_autostopped_is_launched_again_by_the_next_call_in_the_process(
    skybox: SkyBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(skybox.project)
    where = rh.function("jobs:where", system=_fresh(skybox), reqs=[])
    assert where(1)["x"] == 1
    skybox.autostop()  # the VM goes away under a process that holds a connection to it
    assert where(2)["x"] == 2  # relaunched, bootstrapped, called: no error surfaced
    assert skybox.launcher_state()["sky1"]["launches"] == 2
    # The "new VM" has a new host key, learnt afresh after the relaunch.
    cluster = where.system
    assert isinstance(cluster, OnDemandCluster)
    known = cluster.known_hosts.read_text().split()
    host_pub = (skybox.host.host_key.parent / "host_key.pub").read_text().split()
    assert known[0] == f"[127.0.0.1]:{skybox.host.port}"
    assert known[1:3] == host_pub[0:2]


def test_up_on_a_cluster_that_is_up_relaunches_nothing_and_shows_both_views(
    skybox: SkyBox,
) -> None:
    pid = json.loads((skybox.root / "daemon.json").read_text())["pid"]
    launches = skybox.launcher_state()["sky1"]["launches"]
    done = run_cli("up", "sky1", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    assert "sky1 (sky): up" in done.stdout
    assert "skypilot   UP" in done.stdout
    assert "launching" not in done.stderr
    assert skybox.launcher_state()["sky1"]["launches"] == launches
    assert json.loads((skybox.root / "daemon.json").read_text())["pid"] == pid


def test_status_shows_skypilots_view_beside_the_daemons(skybox: SkyBox) -> None:
    done = run_cli("--json", "status", "sky1", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["up"] is True and document["type"] == "sky"
    assert document["home"] == str(skybox.root)
    assert document["sky"]["status"] == "UP"
    assert document["sky"]["autostop_mins"] == 30
    assert document["sky"]["resources"] == "1x AWS({'A10G': 1})"

    human = run_cli("status", "sky1", cwd=skybox.project, env=skybox.env)
    assert human.returncode == 0, human.stderr
    assert "sky1 (sky): up" in human.stdout
    assert "skypilot   UP, 1x AWS({'A10G': 1}), autostop stop after 30 idle min" in human.stdout


def test_autostop_is_changed_and_disabled_from_the_cli(skybox: SkyBox) -> None:
    done = run_cli("autostop", "sky1", "10", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sky1: stops after 10 idle minutes"
    assert skybox.launcher_state()["sky1"]["autostop"] == 10
    done = run_cli("autostop", "sky1", "--off", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    assert skybox.launcher_state()["sky1"]["autostop"] is None
    neither = run_cli("autostop", "sky1", cwd=skybox.project, env=skybox.env)
    assert neither.returncode == ExitCode.USAGE
    assert "give MINUTES or --off" in neither.stderr


def test_restart_restarts_only_the_daemon_and_the_keep_alive_follows_it(
    skybox: SkyBox,
) -> None:
    cluster = _fresh(skybox)
    old = json.loads((skybox.root / "daemon.json").read_text())["pid"]
    launches = skybox.launcher_state()["sky1"]["launches"]
    cluster.restart_server()
    new = json.loads((skybox.root / "daemon.json").read_text())["pid"]
    assert new != old
    assert skybox.launcher_state()["sky1"]["launches"] == launches  # the VM stayed
    watched = skybox.root / "keepalive.watch"
    deadline = time.monotonic() + 10
    while watched.read_text() != str(new) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert watched.read_text() == str(new)
    assert len(_keepalives(skybox)) == 1


def _keepalives(skybox: SkyBox) -> list[int]:
    found = []
    for pid in processes_of_root(skybox.root):
        try:
            if b"rhcli.clusters.sky_keepalive" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def test_down_without_a_terminal_and_without_yes_refuses_and_tears_nothing_down(
    skybox: SkyBox,
) -> None:
    done = run_cli("down", "sky1", cwd=skybox.project, env=skybox.env)
    assert done.returncode == ExitCode.USAGE
    assert "stdin is not a terminal; pass --yes to confirm" in done.stderr
    assert skybox.launcher_state()["sky1"]["status"] == "UP"
    assert processes_of_root(skybox.root)  # the daemon still runs


def test_down_on_a_terminal_asks_first_and_no_keeps_the_cluster(skybox: SkyBox) -> None:
    primary, secondary = os.openpty()  # stdin is a terminal, as for a person
    try:
        os.write(primary, b"n\n")
        done = subprocess.run(
            [str(Path(sys.executable).parent / "rhcli"), "down", "sky1"],
            cwd=skybox.project,
            env={**os.environ, **skybox.env},
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == ExitCode.USAGE
    assert "Tear down sky cluster 'sky1'? Its VMs and disks are deleted. [y/N]" in done.stderr
    assert "not torn down" in done.stderr
    assert done.stdout == ""  # the question never lands among the results
    assert skybox.launcher_state()["sky1"]["status"] == "UP"


def test_down_yes_stops_the_daemon_and_tears_the_cluster_down(skybox: SkyBox) -> None:
    done = run_cli("down", "sky1", "--yes", cwd=skybox.project, env=skybox.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sky1: torn down"
    assert skybox.launcher_state() == {}
    deadline = time.monotonic() + 10
    while processes_of_root(skybox.root) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_of_root(skybox.root) == []  # daemon, Ray and keep-alive all gone
    assert not (skybox.root.parent / "sky1.known_hosts").exists()

    after = run_cli("status", "sky1", cwd=skybox.project, env=skybox.env)
    assert after.returncode == ExitCode.UNREACHABLE
    assert "skypilot   no such cluster" in after.stdout


# --- several nodes ---------------------------------------------------------------------------


def _launched(skybox: SkyBox, name: str, nodes: int) -> tuple[OnDemandCluster, SSHCluster]:
    """A sky cluster of `nodes` nodes launched by the test launcher, and the SSH cluster
    rhcli built over its record; nothing is connected to (no second bring-up here)."""
    registry.forget_all()
    cluster = rh.ondemand_cluster(name, num_nodes=nodes, home=str(skybox.root))
    return cluster, cluster.head(launch=True)


def _forget(cluster: OnDemandCluster) -> None:
    cluster.launcher.down(cluster.name)
    registry.forget_all()


@pytest.mark.parametrize("nodes", [2, 3])
def test_a_cluster_of_several_nodes_is_one_multi_node_ssh_cluster_over_them_head_first(
    skybox: SkyBox, nodes: int, capfd: pytest.CaptureFixture[str]
) -> None:
    cluster, built = _launched(skybox, f"skyn{nodes}", nodes)
    try:
        record = cluster.sky_status()
        assert record is not None and len(record.node_ips) == nodes
        assert isinstance(built, MultiNodeSSHCluster)
        targets = [built.target, *(w.target for w in built.workers)]
        assert [t.hostname for t in targets] == list(record.node_ips)  # head first
        for target in targets:  # the record's user, key and port, the cluster's known_hosts
            assert target.user == record.ssh_user == "root"
            assert target.key_files == (record.key_path,)
            assert target.port == record.ssh_port
            assert target.known_hosts == (str(cluster.known_hosts),)
            assert target.accept_new_host_key  # learnt into that file only
        assert built.home == str(skybox.root)
        assert "runs on the head node" not in capfd.readouterr().err
        assert cluster.head(launch=False) is built  # the same record: the same object
    finally:
        _forget(cluster)


def test_a_cluster_of_one_node_is_still_a_plain_ssh_cluster(skybox: SkyBox) -> None:
    cluster, built = _launched(skybox, "skyn1", 1)
    try:
        assert type(built) is SSHCluster
        assert (built.target.hostname, built.target.port) == ("127.0.0.1", skybox.host.port)
        assert built.target.known_hosts == (str(cluster.known_hosts),)
    finally:
        _forget(cluster)


class _PrivateWorkerLauncher(LoopbackLauncher):
    """SkyPilot's record of a cluster whose second node has no public IP."""

    def record(self, name: str) -> SkyRecord | None:
        found = super().record(name)
        return found and dataclasses.replace(found, node_ips=(found.node_ips[0], ""))


def test_a_node_without_an_external_ip_is_refused_saying_what_is_unsupported(
    skybox: SkyBox,
) -> None:
    from rhcli.config.schema import ClusterSpec

    spec = ClusterSpec(name="skypriv", type="sky", num_nodes=2, home=str(skybox.root))
    launcher = _PrivateWorkerLauncher(cluster="skypriv", state_dir=skybox.directory)
    cluster = OnDemandCluster(spec, launcher=launcher)
    try:
        with pytest.raises(NotSupportedError) as raised:
            cluster.head(launch=True)
        message = str(raised.value)
        assert "node 1 of sky cluster 'skypriv' has no external IP address" in message
        assert "private-only clusters (reached through a jump host" in message
        assert raised.value.exit_code == ExitCode.USAGE
    finally:
        launcher.down("skypriv")
