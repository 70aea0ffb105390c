"""What an SSH cluster refuses, and how: host keys, user keys, unreachable hosts; and
reqs installed into the cluster's venv (a local package, a skipped reinstall, pip's own
error lines)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from rhcli.clusters.ssh import SSHCluster
from rhcli.errors import UnreachableError, UsageError
from rhcli.function_ref import from_entrypoint
from rhcli.functions import Function
from rhcli.transport.ssh import HostKeyError
from tests.ssh.conftest import Box
from tests.support.sshd import SSHHost, free_port, keygen


def _cluster(
    host: SSHHost,
    *,
    port: int | None = None,
    key: str | None = None,
    accept_host_key: bool = False,
    name: str = "probe",
) -> SSHCluster:
    return SSHCluster(
        name,
        host="127.0.0.1",
        port=port or host.port,
        user="root",
        key=key or str(host.user_key),
        home=str(host.directory / "unused-root"),
        accept_host_key=accept_host_key,
    )


def _fingerprint(host: SSHHost) -> str:
    listed = subprocess.run(
        ["ssh-keygen", "-lf", f"{host.host_key}.pub"], capture_output=True, text=True, check=True
    )
    return listed.stdout.split()[1]


def _host_line(host: SSHHost) -> str:
    kind, key = Path(f"{host.host_key}.pub").read_text().split()[:2]
    return f"[127.0.0.1]:{host.port} {kind} {key}"


def test_an_unknown_host_key_is_refused_with_its_fingerprint_and_accept_host_key(
    sshd_host: SSHHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    monkeypatch.setenv("RHCLI_KNOWN_HOSTS", str(known_hosts))
    with pytest.raises(HostKeyError) as caught:
        _cluster(sshd_host).connection()
    message = str(caught.value)
    assert _fingerprint(sshd_host) in message and "SHA256:" in message
    assert "--accept-host-key" in message
    assert "nothing was sent" in message
    assert known_hosts.read_text() == ""


def test_accept_host_key_adds_exactly_one_known_hosts_line_and_then_it_is_known(
    sshd_host: SSHHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known_hosts = tmp_path / "known_hosts"
    monkeypatch.setenv("RHCLI_KNOWN_HOSTS", str(known_hosts))
    accepting = _cluster(sshd_host, accept_host_key=True)
    assert accepting.run(["true"])[0].returncode == 0
    accepting.connection().close()
    assert known_hosts.read_text().splitlines() == [_host_line(sshd_host)]
    # Known now: a cluster that accepts nothing connects, and the file is unchanged.
    plain = _cluster(sshd_host)
    assert plain.run(["echo known"])[0].stdout == "known\n"
    plain.connection().close()
    assert known_hosts.read_text().splitlines() == [_host_line(sshd_host)]


@pytest.mark.parametrize("accept_host_key", [False, True])
def test_a_changed_host_key_is_always_refused(
    sshd_host: SSHHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, accept_host_key: bool
) -> None:
    other = keygen(tmp_path / "other_host_key")
    kind, key = other.split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd_host.port} {kind} {key}\n")
    before = known_hosts.read_text()
    monkeypatch.setenv("RHCLI_KNOWN_HOSTS", str(known_hosts))
    with pytest.raises(HostKeyError, match="CHANGED") as caught:
        _cluster(sshd_host, accept_host_key=accept_host_key).connection()
    assert _fingerprint(sshd_host) in str(caught.value)
    assert known_hosts.read_text() == before


def test_a_user_key_the_host_does_not_accept_is_refused_with_a_clear_error(
    sshd_host: SSHHost, tmp_path: Path
) -> None:
    keygen(tmp_path / "stranger")
    with pytest.raises(UnreachableError, match="was refused") as caught:
        _cluster(sshd_host, key=str(tmp_path / "stranger")).connection()
    assert not isinstance(caught.value, HostKeyError)
    assert "user and key" in str(caught.value)


def test_a_missing_user_key_file_is_refused_with_a_clear_error(
    sshd_host: SSHHost, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-key"
    with pytest.raises(UnreachableError) as caught:
        _cluster(sshd_host, key=str(missing)).connection()
    assert not isinstance(caught.value, HostKeyError)
    assert "root@127.0.0.1" in str(caught.value)


def test_an_unreachable_host_fails_with_unreachable_error_within_20_s(
    sshd_host: SSHHost,
) -> None:
    closed = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(UnreachableError, match="cannot reach") as caught:
        _cluster(sshd_host, port=closed).status()
    assert time.monotonic() - started < 20
    assert f"127.0.0.1:{closed}" in str(caught.value)


def _tiny_package(project: Path) -> None:
    package = project / "pkg"
    (package / "tinypkg_rhcli").mkdir(parents=True)
    (package / "tinypkg_rhcli" / "__init__.py").write_text("VALUE = 'from tinypkg'\n")
    (package / "pyproject.toml").write_text(
        "[build-system]\nrequires = ['setuptools>=64']\nbuild-backend = 'setuptools.build_meta'\n"
        "[project]\nname = 'tinypkg-rhcli'\nversion = '0.1'\n"
        "[tool.setuptools]\npackages = ['tinypkg_rhcli']\n"
    )
    (project / "use.py").write_text(
        "def value():\n    import tinypkg_rhcli\n    return tinypkg_rhcli.VALUE\n"
    )


def test_a_local_package_req_is_synced_and_installed_into_the_venv_once(
    box: Box, git_project: Path
) -> None:
    _tiny_package(git_project)
    value = Function(
        from_entrypoint("use:value", root=git_project), system=box.cluster, reqs=["./pkg"]
    )
    assert value() == "from tinypkg"
    listed = box.cluster.run([f"{box.root}/venv/bin/python -m pip show tinypkg-rhcli"])[0]
    assert "Name: tinypkg-rhcli" in listed.stdout
    # The same reqs again: the fingerprint says it is done, and pip is not run.
    assert box.cluster.install_packages(["./pkg"], local_root=git_project, echo=False) is False


def test_a_failing_install_shows_pips_own_error_lines(box: Box, git_project: Path) -> None:
    box.cluster.sync(git_project)
    with pytest.raises(UsageError) as caught:
        box.cluster.install_packages(
            ["rhcli-no-such-distribution==1.0"], local_root=git_project, echo=False
        )
    message = str(caught.value)
    assert "rhcli-no-such-distribution" in message
    assert "ERROR:" in message  # pip's own line, not a paraphrase
