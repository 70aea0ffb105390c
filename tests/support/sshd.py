"""A real sshd on 127.0.0.1 for the tests: throw-away host key, user key and known_hosts.

Started as root from a temporary config (see shared NOTES: UsePAM no, StrictModes no, its
own HostKey, AuthorizedKeysFile and PidFile, /run/sshd created first). No `Subsystem sftp`
line: like many minimal, container and hardened hosts, the test hosts offer a shell and
port forwarding only, so every SSH test proves rhcli needs nothing more. Every session it
serves carries the test session's marker (SetEnv), so processes started on "the host" are
counted by the session's leftover check like any other.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.session_processes import session_env

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class SSHHost:
    port: int
    user_key: Path
    known_hosts: Path
    host_key: Path
    directory: Path
    process: subprocess.Popen[bytes]
    argv: list[str] = field(default_factory=list)  # how it was started (start_again)
    address: str = "127.0.0.1"

    def start_again(self) -> None:
        """Start the same sshd (same keys, address, namespace) after it was stopped."""
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.address, self.port, self.process)

    def stop(self) -> None:
        """Stop the listener and end every connection it accepted: a session outlives its
        listener, and would keep a client's ssh master (ControlPersist) running on."""
        sessions = _children(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _children(pid: int) -> list[int]:
    """The pids whose parent is pid (an sshd's per-connection processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])  # field 4
        except (OSError, IndexError, ValueError):  # gone meanwhile
            continue
        if parent == pid:
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return (
        path.with_suffix(".pub").read_text().strip()
        if path.suffix
        else Path(f"{path}.pub").read_text().strip()
    )


def start_sshd(
    directory: Path,
    *,
    address: str = "127.0.0.1",
    port: int | None = None,
    netns: str | None = None,
    env: dict[str, str] | None = None,
    hide: Path | None = None,
    keys_from: SSHHost | None = None,
    mounts: list[list[str]] | None = None,
    config: str = "",
) -> SSHHost:
    """Start sshd on address:port (a free loopback port by default).

    netns: run it inside that network namespace (`ip netns exec`), so address is the
    namespace's own. env: `SetEnv` for every session (each test host its own rhcli root).
    hide: mount an empty tmpfs over this folder for the sshd and everything started
    through it (a host whose disk does not have another host's files). mounts: further
    `mount` argument lists run in that private mount namespace (a small or read-only
    disk for this host only). keys_from: reuse that host's user key (one key for several
    hosts); the host key is always new. config: extra sshd_config lines.
    """
    directory.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(exist_ok=True)
    host_key = directory / "host_key"
    user_key = keys_from.user_key if keys_from else directory / "user_key"
    host_pub = keygen(host_key)
    user_pub = Path(f"{user_key}.pub").read_text().strip() if keys_from else keygen(user_key)
    (directory / "authorized_keys").write_text(user_pub + "\n")
    port = port or free_port()
    # One SetEnv line: sshd keeps only the first line of each keyword.
    variables = {**session_env(), **(env or {})}
    set_env = (
        "SetEnv " + " ".join(f"{name}={value}" for name, value in variables.items()) + "\n"
        if variables
        else ""
    )
    config_file = directory / "sshd_config"
    # Extra lines first: sshd keeps the first value of each keyword.
    config_file.write_text(
        f"{config}Port {port}\nListenAddress {address}\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {directory}/authorized_keys\nPidFile {directory}/sshd.pid\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin yes\n"
        f"LogLevel ERROR\n{set_env}"
    )
    kind, key = host_pub.split()[:2]
    known_hosts = directory / "known_hosts"
    name = address if port == 22 else f"[{address}]:{port}"
    known_hosts.write_text(f"{name} {kind} {key}\n")
    argv = [SSHD, "-D", "-e", "-f", str(config_file)]
    steps = [f"mount -t tmpfs tmpfs {shlex.quote(str(hide))}"] if hide is not None else []
    steps += [shlex.join(["mount", *m]) for m in mounts or []]
    if steps:
        # A private mount namespace, so the mounts are this host's only.
        script = " && ".join([*steps, f"exec {shlex.join(argv)}"])
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_port(address, port, process)
    os.chmod(user_key, 0o600)
    return SSHHost(port, user_key, known_hosts, host_key, directory, process, argv, address)


def _wait_for_port(address: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex((address, port)) == 0:
                return
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"sshd did not start on {address}:{port}")
