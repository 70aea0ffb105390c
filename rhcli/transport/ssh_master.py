"""One OpenSSH master connection per cluster, shared by every rhcli process (the holder).

Every new `rhcli` process used to open its own SSH connection (paramiko: an import and
a handshake), probe the host (a remote shell) and rsync over yet another connection. A
shell loop of `rhcli run` paid that thousands of times. Instead the first process starts
an OpenSSH master (ControlMaster, ControlPersist) whose control socket lies under the
client's state dir, and later processes reach the daemon through it:

- gRPC goes through a local forward of the master (``ssh -O forward``) from a unix
  socket beside the control socket to the daemon's loopback port: the bytes are moved by
  OpenSSH's C code, not by Python (paramiko's forward cost a 10 MB argument 2.6 times
  the local figure);
- rsync's ssh runs over the same master (no handshake; the host still starts a shell);
- the master ends after ``RHCLI_SSH_IDLE_S`` seconds (default IDLE_DEFAULT_S) without a
  command or a forwarded connection, or when `rhcli down` closes it.

Both sockets are made by ssh with mode 0600 (StreamLocalBindMask=0177 for the forward)
in a folder of mode 0700: whoever can use them could run commands on the host as the
user, as with any ControlMaster. The master is started with the user's own settings and
strict host-key checking, after the host key was verified or accepted.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rhcli.errors import UsageError
from rhcli.transport.ssh_target import SSHTarget

log = logging.getLogger(__name__)

IDLE_ENV = "RHCLI_SSH_IDLE_S"
IDLE_DEFAULT_S = 600
# A unix socket path is at most 107 bytes; ssh also makes a temporary name beside the
# control socket (17 more characters), and a forward's name adds the port.
_MAX_SOCKET_PATH = 90
_COMMAND_TIMEOUT_S = 30.0


def idle_seconds() -> int:
    """How long a master outlives its last use: $RHCLI_SSH_IDLE_S, else IDLE_DEFAULT_S.
    Raises UsageError for a value that is not a whole number of seconds >= 1."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return IDLE_DEFAULT_S
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(
            f"{IDLE_ENV}={raw!r}: give the seconds an idle SSH master connection is kept "
            f"(a whole number, 1 or more; default {IDLE_DEFAULT_S})"
        )
    return value


def control_dir() -> Path:
    """Where the masters of this client live: ``<state dir>/ssh-control``."""
    from rhcli.config.paths import rhcli_home

    return rhcli_home() / "ssh-control"


class Master:
    """The master connection named key (a digest of the cluster's settings) to target.

    Nothing starts until ensure(). Methods block until ssh has answered; none raises
    for a master that cannot start or a forward that fails: they return False or None,
    and the caller reaches the host its own way.
    """

    def __init__(self, key: str, target: SSHTarget, *, folder: Path | None = None) -> None:
        self.key = key
        self.target = target
        self.folder = folder or control_dir()
        self.control = self.folder / key

    @property
    def usable(self) -> bool:
        """Whether its sockets' paths are short enough for unix sockets."""
        return len(str(self.forward_path(65535))) <= _MAX_SOCKET_PATH

    def forward_path(self, remote_port: int) -> Path:
        return self.folder / f"{self.key}-{remote_port}"

    def alive(self) -> bool:
        """A master listens on the control socket (a connect, not an `ssh -O check`)."""
        return _listening(self.control)

    def ensure(self) -> bool:
        """Start the master unless one runs; False when it cannot start (ssh missing, the
        host unreachable or its key not known, the path too long).

        Started on its own, detached from every pipe (-f -N, stdio on /dev/null and a
        file): started implicitly by rsync's ssh, it would hold rsync's stderr open and
        the sync would wait for it to exit. A lock keeps two processes from starting two.
        """
        if not self.usable:
            return False
        if self.alive():
            return True
        with self._locked():
            if self.alive():  # another process started it while we waited
                return True
            # Sockets of a master that died: a new master has no forwards yet.
            self._remove_sockets()
            options = [
                *("-o", "ControlMaster=yes", "-o", f"ControlPath={self.control}"),
                *("-o", f"ControlPersist={idle_seconds()}"),
                *("-o", "StreamLocalBindUnlink=yes", "-o", "StreamLocalBindMask=0177"),
                *("-o", "ServerAliveInterval=15"),
            ]
            with tempfile.TemporaryFile() as errors:
                try:
                    done = subprocess.run(
                        [
                            "ssh",
                            *self.target.ssh_options(),
                            *options,
                            "-f",
                            "-N",
                            self.target.destination(),
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=errors,
                        check=False,
                        env=_master_env(),
                        timeout=_COMMAND_TIMEOUT_S,
                    )
                except (OSError, subprocess.TimeoutExpired) as exc:
                    log.debug("ssh master to %s: %s", self.target.alias, exc)
                    return False
                if done.returncode != 0:
                    errors.seek(0)
                    log.debug(
                        "ssh master to %s failed: %s",
                        self.target.alias,
                        errors.read().decode(errors="replace").strip(),
                    )
        return self.alive()

    def forward(self, remote_port: int) -> str | None:
        """A unix socket here that reaches 127.0.0.1:remote_port on the host through the
        master; None when the master runs no more or refuses. Idempotent: a forward the
        master has already is kept (whichever process asked for it; a new master starts
        with none, see ensure)."""
        path = self.forward_path(remote_port)
        if path.is_socket() and self.alive():
            return str(path)
        done = self._command("forward", f"{path}:127.0.0.1:{remote_port}")
        return str(path) if done and path.is_socket() else None

    def drop_forward(self, remote_port: int) -> None:
        """Cancel the forward to remote_port (its daemon is gone) and remove its socket."""
        path = self.forward_path(remote_port)
        if self.alive():
            self._command("cancel", f"{path}:127.0.0.1:{remote_port}")
        path.unlink(missing_ok=True)

    def close(self) -> None:
        """End the master, if one runs, and remove its sockets. Idempotent."""
        if self.alive():
            try:
                subprocess.run(
                    [
                        "ssh",
                        "-o",
                        f"ControlPath={self.control}",
                        "-O",
                        "exit",
                        self.target.destination(),
                    ],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    check=False,
                    timeout=10,
                )
            except subprocess.TimeoutExpired:
                log.warning("the ssh master at %s did not exit in 10 s", self.control)
        self._remove_sockets()

    def _remove_sockets(self) -> None:
        self.control.unlink(missing_ok=True)
        for stale in self.folder.glob(f"{self.key}-*"):
            stale.unlink(missing_ok=True)

    def ssh_options(self) -> list[str]:
        """Options that make the system ssh use this master (and never become one)."""
        return ["-o", "ControlMaster=no", "-o", f"ControlPath={self.control}"]

    def _command(self, operation: str, spec: str) -> bool:
        try:
            done = subprocess.run(
                [
                    "ssh",
                    *self.ssh_options(),
                    "-O",
                    operation,
                    "-L",
                    spec,
                    self.target.destination(),
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=_COMMAND_TIMEOUT_S,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("ssh -O %s on %s: %s", operation, self.control, exc)
            return False
        if done.returncode != 0:
            log.debug("ssh -O %s on %s: %s", operation, self.control, done.stderr.decode().strip())
        return done.returncode == 0

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)  # exist_ok keeps a folder's mode: make it private
        fd = os.open(self.folder / f"{self.key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _master_env() -> dict[str, str]:
    """The environment of the master: the client's, less the daemon root's marker. The
    master belongs to the client, not to a daemon root (it is no daemon or Ray process of
    it); `down` closes it, or it ends by itself after its idle time."""
    from rhcli.config.paths import HOME_ENV

    env = dict(os.environ)
    env.pop(HOME_ENV, None)
    return env
