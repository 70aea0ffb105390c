"""SSH to a cluster host with paramiko, behaving like the user's own `ssh`.

Settings come from ~/.ssh/config (Host aliases, HostName, User, Port, IdentityFile,
ProxyJump, ProxyCommand; see rhcli.transport.ssh_target), overridden by what the cluster
spec says explicitly. Keys come from the agent and the identity files. Host keys are
verified against known_hosts: an unknown host is refused with its fingerprint and the
exact way to accept it, and a changed key is always refused. Commands are argument lists,
quoted here: no shell string is ever built from unquoted input.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko

from rhcli.errors import UnreachableError
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
        stdin, stdout, stderr = self._client.exec_command(command, timeout=timeout)
        if input_bytes is not None:
            stdin.write(input_bytes)
            stdin.channel.shutdown_write()
        # Read both streams at once: a command that fills one while we wait on the other
        # (pip's warnings on stderr) would otherwise block forever.
        err_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: err_chunks.append(stderr.read()), daemon=True)
        reader.start()
        out = stdout.read().decode(errors="replace")
        reader.join()
        code = stdout.channel.recv_exit_status()
        return CommandResult(code, out, b"".join(err_chunks).decode(errors="replace"))

    def put(self, data: bytes, remote_path: str, *, mode: int = 0o600) -> None:
        """Write remote_path over SFTP; its mode is set before any byte is written, so a
        secret is never readable by others, not even for a moment."""
        sftp = self._client.open_sftp()
        try:
            with sftp.open(remote_path, "wb") as f:
                f.chmod(mode)
                f.set_pipelined(True)
                f.write(data)
        finally:
            sftp.close()

    def get(self, remote_path: str) -> bytes | None:
        """The content of remote_path over SFTP, or None when it cannot be read."""
        sftp = self._client.open_sftp()
        try:
            with sftp.open(remote_path, "rb") as f:
                return bytes(f.read())
        except OSError:
            return None
        finally:
            sftp.close()

    def close(self) -> None:
        self._client.close()


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
