"""Hosts configured unlike the suite's own: each lacks one thing rhcli needs, and `up`
refuses it before changing anything, with an error that names the host, what is
missing and the fix (HostSetupError, exit code 3), never an "internal error".

Each host is a real sshd on 127.0.0.1 of its own; what it lacks is real for every session
it serves: a PATH without rsync and setsid, a root on a read-only or a 16 MiB disk (mounts
in a private mount namespace of that sshd alone), port forwarding turned off. The one
stand-in is the old Python, which this machine does not have: the host's real python3 is
told it is 3.8 (sys.version_info, by a sitecustomize on that host's PYTHONPATH).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from rhcli.clusters.ssh import SSHCluster
from rhcli.errors import ExitCode, HostSetupError
from rhcli.transport import bootstrap
from rhcli.transport.ssh import SSHConnection, resolve_target
from tests.conftest import processes_of_root, run_cli
from tests.support.seeded_root import seed_root
from tests.support.sshd import SSHHost, start_sshd


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[list[SSHHost]]:
    """The sshds a test starts (stopped at its end)."""
    started: list[SSHHost] = []
    yield started
    for host in started:
        host.stop()


def _host(hosts: list[SSHHost], directory: Path, **options: object) -> SSHHost:
    host = start_sshd(directory, **options)  # type: ignore[arg-type]
    hosts.append(host)
    return host


def _cluster(host: SSHHost, root: Path, name: str = "odd") -> SSHCluster:
    return SSHCluster(
        name,
        host="127.0.0.1",
        port=host.port,
        user="root",
        key=str(host.user_key),
        home=str(root),
        known_hosts=str(host.known_hosts),
    )


def _refused(cluster: SSHCluster) -> HostSetupError:
    with pytest.raises(HostSetupError) as caught:
        cluster.up()
    cluster.connection().close()
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert str(caught.value).startswith("127.0.0.1: ")
    assert str(caught.value).lower().endswith("then run `rhcli up` again")
    return caught.value


def test_the_test_hosts_offer_no_sftp_subsystem(hosts: list[SSHHost], tmp_path: Path) -> None:
    host = _host(hosts, tmp_path / "sshd")
    target = resolve_target(
        "127.0.0.1",
        user="root",
        port=host.port,
        key=str(host.user_key),
        known_hosts=str(host.known_hosts),
    )
    conn = SSHConnection(target)
    try:
        with pytest.raises(paramiko.SSHException):  # as on minimal and hardened hosts
            conn._client.open_sftp()
        assert conn.run(["echo", "a shell"]).stdout == "a shell\n"
    finally:
        conn.close()


def test_a_host_whose_python3_is_too_old_is_refused_naming_its_version(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    shim = tmp_path / "old-python"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys\nsys.version_info = (3, 8, 10, 'final', 0)\n"
    )
    host = _host(hosts, tmp_path / "sshd", env={"PYTHONPATH": str(shim)})
    root = tmp_path / "root"
    error = _refused(_cluster(host, root))
    assert "its python3 is Python 3.8 (" in error.missing
    assert "rhcli needs Python 3.10 or newer there" in error.missing
    assert "Install Python 3.10+" in error.fix
    assert not root.exists()  # refused before anything was made


def test_a_host_without_rsync_and_setsid_is_refused_naming_both(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"  # the system's tools, less rsync and setsid
    bin_dir.mkdir()
    for tool in Path("/usr/bin").iterdir():
        if tool.name not in ("rsync", "setsid"):
            (bin_dir / tool.name).symlink_to(tool)
    host = _host(hosts, tmp_path / "sshd", env={"PATH": f"{bin_dir}:/usr/sbin"})
    root = tmp_path / "root"
    error = _refused(_cluster(host, root))
    assert "no `rsync` on the PATH of a non-interactive SSH session (to sync code)" in (
        error.missing
    )
    assert "no `setsid` on the PATH" in error.missing
    assert "Install rsync there" in error.fix and "install util-linux there" in error.fix
    assert not root.exists()


def test_a_root_on_a_read_only_disk_is_refused_naming_the_folder(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    read_only = [["--bind", str(disk), str(disk)], ["-o", "remount,bind,ro", str(disk)]]
    host = _host(hosts, tmp_path / "sshd", mounts=read_only)
    error = _refused(_cluster(host, disk / "root"))
    assert f"the SSH user cannot write {disk}" in error.missing
    assert "Set the cluster's `home:` to a folder that user can write" in error.fix


def test_a_root_on_a_disk_without_room_for_a_first_install_is_refused_saying_how_much(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    small = [["-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)]]
    host = _host(hosts, tmp_path / "sshd", mounts=small)
    error = _refused(_cluster(host, disk / "root"))
    assert f"only 16 MiB free under {disk}, a first install needs 768 MiB" in error.missing
    assert "Free some space there" in error.fix


def test_a_file_that_does_not_fit_on_the_hosts_disk_is_refused_naming_the_fix(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    host = _host(
        hosts, tmp_path / "sshd", mounts=[["-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]]
    )
    conn = _cluster(host, disk / "root").connection()
    try:
        with pytest.raises(HostSetupError, match="no free disk space to write") as caught:
            conn.put(b"x" * 2**21, f"{disk}/big")
        assert "Free some space there" in caught.value.fix
        assert conn.run(["ls", "-A", str(disk)]).stdout == ""  # no half file left behind
    finally:
        conn.close()


def test_a_disk_that_fills_up_while_installing_is_named_as_the_hosts_condition(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    """The check before an install cannot foresee other writers: a disk that fills up
    during an install step (here a virtualenv on a 4 MiB disk) is named all the same."""
    disk = tmp_path / "disk"
    disk.mkdir()
    small = [["-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)]]
    host = _host(hosts, tmp_path / "sshd", mounts=small)
    conn = _cluster(host, disk / "root").connection()
    try:
        step = ["python3", "-m", "venv", f"{disk}/venv"]
        with pytest.raises(HostSetupError) as caught:
            bootstrap._check(conn, step, "creating the virtualenv", root=str(disk))
        assert caught.value.missing.startswith(
            f"no free disk space left under {disk} while creating the virtualenv ("
        )
        assert caught.value.fix.startswith("Free some space there")
    finally:
        conn.close()


def test_a_python_that_cannot_make_a_virtualenv_is_named_with_the_package_to_install(
    hosts: list[SSHHost], tmp_path: Path
) -> None:
    """What Debian's python3 says without python3-venv (the step is a stand-in that says
    it: this machine's python3 has venv)."""
    host = _host(hosts, tmp_path / "sshd")
    conn = _cluster(host, tmp_path / "root").connection()
    debian = (
        "echo 'The virtual environment was not created successfully because ensurepip is not "
        "available.  On Debian/Ubuntu systems, you need to install the python3-venv package' >&2;"
        " exit 1"
    )
    try:
        with pytest.raises(HostSetupError) as caught:
            step = ["sh", "-c", debian]
            bootstrap._check(conn, step, "creating the virtualenv", root=str(tmp_path))
        assert "cannot make a virtualenv (ensurepip is not available)" in caught.value.missing
        assert "`sudo apt install python3-venv`" in caught.value.fix
    finally:
        conn.close()


@pytest.mark.parametrize("forwarder", ["openssh master", "paramiko tunnel"])
def test_a_host_that_refuses_port_forwarding_is_named_with_the_sshd_setting_to_change(
    hosts: list[SSHHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forwarder: str
) -> None:
    if forwarder == "paramiko tunnel":  # no usable master: a socket path past the unix limit
        deep = tmp_path / ("d" * 120)
        for module in ("rhcli.clusters.ssh", "rhcli.transport.ssh_master"):
            monkeypatch.setattr(f"{module}.control_dir", lambda: deep)
    host = _host(hosts, tmp_path / "sshd", config="AllowTcpForwarding no\n")
    root = tmp_path / "root"
    seed_root(root)  # rhcli is installed there: the daemon starts, only the forward fails
    cluster = _cluster(host, root)
    try:
        with pytest.raises(HostSetupError) as caught:
            cluster.up()
        assert "its SSH server refuses port forwarding for root@127.0.0.1" in caught.value.missing
        assert "AllowTcpForwarding local" in caught.value.fix
        assert cluster.master().alive() == (forwarder == "openssh master")
        assert not cluster.warm_store().path.exists()  # nothing for a later process to trust
    finally:
        cluster.down()
        cluster.connection().close()
    assert not processes_of_root(root)


def test_the_cli_reports_a_host_without_something_as_one_error_line_and_exit_3(
    hosts: list[SSHHost], tmp_path: Path, project: Path
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    host = _host(
        hosts, tmp_path / "sshd", mounts=[["-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)]]
    )
    (project / "runhouse.yaml").write_text(
        "clusters:\n"
        "  odd:\n"
        "    type: ssh\n"
        "    host: 127.0.0.1\n"
        f"    port: {host.port}\n"
        "    user: root\n"
        f"    key: {host.user_key}\n"
        f"    home: {disk / 'root'}\n"
    )
    done = run_cli("up", "odd", cwd=project, env={"RHCLI_KNOWN_HOSTS": str(host.known_hosts)})
    assert done.returncode == ExitCode.UNREACHABLE, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [done.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith("error: 127.0.0.1: only 16 MiB free under ")
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
