"""SSH to a cluster host with paramiko, behaving like the user's own `ssh`.

Settings come from ~/.ssh/config (Host aliases, HostName, User, Port, IdentityFile,
ProxyJump, ProxyCommand; see rhcli.transport.ssh_target), overridden by what the cluster
spec says explicitly. Keys come from the agent and the identity files. Host keys are
verified against known_hosts: an unknown host is refused with its fingerprint and the
exact way to accept it, and a changed key is always refused. Commands are argument lists,
quoted here: no shell string is ever built from unquoted input.

Files travel over an exec channel (`cat` on the host), never SFTP: many hosts (minimal and
container images, hardened servers) run sshd without an SFTP subsystem, and rhcli already
needs a shell there.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import secrets
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from rhcli.errors import UnreachableError
from rhcli.transport import host_check
from rhcli.transport.ssh_target import SSHTarget, resolve_target

__all__ = ["HostKeyError", "SSHConnection", "SSHTarget", "fingerprint", "resolve_target"]

CONNECT_TIMEOUT_S = 15.0


class HostKeyError(UnreachableError):
    """The host's key is unknown or has changed: nothing was sent to it."""


def fingerprint(key: paramiko.PKey) -> str:
    """SHA256:... as OpenSSH prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _VerifyHostKey(paramiko.MissingHostKeyPolicy):
    """Unknown host: refuse with the fingerprint and how to accept it (or accept it when
    asked explicitly, writing it to known_hosts and saying so)."""

    def __init__(self, target: SSHTarget) -> None:
        self._target = target

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        name = self._target.known_hosts_name
        if self._target.accept_new_host_key:
            path = Path(self._target.known_hosts[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as f:
                f.write(f"{name} {key.get_name()} {key.get_base64()}\n")
            return
        raise HostKeyError(
            f"the host key of {name} is not known ({key.get_name()} {fingerprint(key)}); "
            f"nothing was sent. If that fingerprint is right, accept it with "
            f"`rhcli up {self._target.alias} --accept-host-key` (or add it to "
            f"{self._target.known_hosts[0] if self._target.known_hosts else '~/.ssh/known_hosts'}"
            " yourself)"
        )


@dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SSHConnection:
    """One authenticated SSH connection to a host; thread-safe for commands."""

    target: SSHTarget
    _client: paramiko.SSHClient = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._client = _connect(self.target)

    @property
    def transport(self) -> paramiko.Transport:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise UnreachableError(f"the SSH connection to {self.target.alias} was lost")
        return transport

    def is_active(self) -> bool:
        transport = self._client.get_transport()
        return transport is not None and transport.is_active()

    def run(
        self,
        argv: list[str],
        *,
        input_bytes: bytes | None = None,
        timeout: float | None = None,
        cwd: str | None = None,
    ) -> CommandResult:
        """Run argv on the host (each argument quoted); returns its exit code and output."""
        command = shlex.join(argv)
        if cwd:
            command = f"cd {shlex.quote(cwd)} && {command}"
        return self.run_shell(command, input_bytes=input_bytes, timeout=timeout)

    def run_shell(
        self, command: str, *, input_bytes: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run a command line built by the caller from quoted parts (see run)."""
        code, out, err = self._exec(command, input_bytes=input_bytes, timeout=timeout)
        return CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    def _exec(
        self, command: str, *, input_bytes: bytes | None = None, timeout: float | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run command; its exit code, stdout and stderr as bytes. Raises UnreachableError
        when the host refuses the session or the connection breaks."""
        try:
            stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
            if input_bytes is not None:
                stdin.write(input_bytes)
                stdin.channel.shutdown_write()
            # Read both streams at once: a command that fills one while we wait on the
            # other (pip's warnings on stderr) would otherwise block forever.
            err_chunks: list[bytes] = []
            reader = threading.Thread(target=lambda: err_chunks.append(stderr.read()), daemon=True)
            reader.start()
            out = bytes(stdout.read())
            reader.join()
            code = stdout.channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise UnreachableError(
                f"running a command on {self.target.alias} over SSH failed: "
                f"{type(exc).__name__}: {exc}. Check that the host allows SSH sessions for "
                f"{self.target.destination()} (MaxSessions, ForceCommand) and try again"
            ) from None
        return code, out, b"".join(err_chunks)

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o600) -> None:
        """Write data to remote_path through the host's shell (no SFTP needed).

        The file is made under a temporary name beside remote_path with umask 077 (so
        readable by its owner only from its first byte), given mode, then renamed over
        remote_path: a reader never sees half a file, and a failure leaves none.
        Raises HostSetupError when the host has no room or no right to write there.
        """
        directory, name = posixpath.split(remote_path)
        temporary = shlex.quote(posixpath.join(directory, f".{name}.{secrets.token_hex(6)}.tmp"))
        command = (
            f"umask 077 && cat > {temporary} && chmod {mode:o} {temporary} && "
            f"mv -f {temporary} {shlex.quote(remote_path)} "
            f"|| {{ status=$?; rm -f {temporary}; exit $status; }}"
        )
        code, _, err = self._exec(command, input_bytes=data)
        if code != 0:
            raise write_failed(self.target.alias, remote_path, err.decode(errors="replace"))

    def get(self, remote_path: str) -> bytes | None:
        """The content of remote_path (read with `cat`), or None when it cannot be read."""
        code, out, _ = self._exec(f"cat -- {shlex.quote(remote_path)}")
        return out if code == 0 else None

    def close(self) -> None:
        self._client.close()


def write_failed(host: str, path: str, stderr: str) -> UnreachableError:
    """The error for a file that could not be written on host, by what the shell said:
    a full disk or a place the user may not write is the host's setup, named as such."""
    said = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
    if "No space left" in stderr or "Disk quota exceeded" in stderr:
        return host_check.disk_full(host, f"to write {path} ({said})")
    if "Permission denied" in stderr or "Read-only file system" in stderr:
        folder = posixpath.dirname(path)
        return host_check.not_writable(host, f"{folder} is not writable by the SSH user ({said})")
    return UnreachableError(f"writing {path} on {host} failed: {said}")


def _connect(target: SSHTarget) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    for path in target.known_hosts:
        if Path(path).is_file():
            client.load_host_keys(path)
    client.set_missing_host_key_policy(_VerifyHostKey(target))
    sock: Any = None
    if target.proxy_command:
        sock = paramiko.ProxyCommand(target.proxy_command)
    elif target.proxy_jump:
        sock = _jump_channel(target)
    try:
        client.connect(
            target.hostname,
            port=target.port,
            username=target.user,
            key_filename=list(target.key_files) or None,  # type: ignore[arg-type]
            sock=sock,
            timeout=CONNECT_TIMEOUT_S,
            banner_timeout=CONNECT_TIMEOUT_S,
            auth_timeout=CONNECT_TIMEOUT_S,
            allow_agent=True,
            look_for_keys=not target.key_files,
        )
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(
            f"the host key of {target.known_hosts_name} has CHANGED: it is now "
            f"{exc.key.get_name()} {fingerprint(exc.key)}, known_hosts says "
            f"{fingerprint(exc.expected_key)}. Refusing to connect: this may be an attack. "
            "If the host was really reinstalled, remove its old line from known_hosts"
        ) from None
    except HostKeyError:
        raise
    except paramiko.AuthenticationException as exc:
        raise UnreachableError(
            f"SSH to {target.destination()}:{target.port} was refused: {exc}. Check the "
            "user and key (cluster `user:`/`key:`, or ~/.ssh/config)"
        ) from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise UnreachableError(
            f"cannot reach {target.destination()}:{target.port} over SSH: {exc}"
        ) from None
    return client


def _jump_channel(target: SSHTarget) -> paramiko.Channel:
    """A channel through the ProxyJump host to the target (one hop)."""
    assert target.proxy_jump is not None
    hop = target.proxy_jump.split(",")[0]
    user, _, rest = hop.rpartition("@")
    host, _, port = rest.partition(":")
    jump = resolve_target(
        host,
        user=user or None,
        port=int(port) if port else None,
        known_hosts=target.known_hosts[0] if target.known_hosts else None,
    )
    jump_client = _connect(jump)
    transport = jump_client.get_transport()
    assert transport is not None
    return transport.open_channel("direct-tcpip", (target.hostname, target.port), ("127.0.0.1", 0))
