"""A real sshd on 127.0.0.1 for the tests: throw-away host key, user key and known_hosts.

Started as root from a temporary config (see shared NOTES: UsePAM no, StrictModes no, its
own HostKey, AuthorizedKeysFile and PidFile, /run/sshd created first).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class SSHHost:
    port: int
    user_key: Path
    known_hosts: Path
    host_key: Path
    directory: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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


def start_sshd(directory: Path) -> SSHHost:
    directory.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(exist_ok=True)
    host_key = directory / "host_key"
    user_key = directory / "user_key"
    host_pub = keygen(host_key)
    user_pub = keygen(user_key)
    (directory / "authorized_keys").write_text(user_pub + "\n")
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {directory}/authorized_keys\nPidFile {directory}/sshd.pid\n"
        "UsePAM no\nStrictModes no\nPasswordAuthentication no\nPermitRootLogin yes\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    kind, key = host_pub.split()[:2]
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("sshd did not start")
    os.chmod(user_key, 0o600)
    return SSHHost(port, user_key, known_hosts, host_key, directory, process)
