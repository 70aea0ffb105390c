"""Where an SSH cluster is and how to reach it, after ~/.ssh/config has been applied.

Kept apart from the paramiko connection (rhcli.transport.ssh) so that a process that
reaches its cluster through the shared OpenSSH master (rhcli.transport.ssh_master) never
imports paramiko: importing it (and `cryptography` under it) costs about a quarter of a
second, as much as the rest of a whole `rhcli run`. paramiko is imported here only to
parse an ssh config file that exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SSH_CONFIG_ENV = "RHCLI_SSH_CONFIG"


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to connect, after ~/.ssh/config has been applied."""

    alias: str  # as the user named it (a host or a ~/.ssh/config Host)
    hostname: str
    port: int = 22
    user: str | None = None
    key_files: tuple[str, ...] = ()
    proxy_command: str | None = None
    proxy_jump: str | None = None
    known_hosts: tuple[str, ...] = ()
    accept_new_host_key: bool = False

    @property
    def known_hosts_name(self) -> str:
        """The host as known_hosts names it: `host`, or `[host]:port` off port 22."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    def ssh_options(self) -> list[str]:
        """The same settings for the system `ssh` (used by rsync and `rhcli ssh`)."""
        options = ["-p", str(self.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        for path in self.known_hosts:
            options += ["-o", f"UserKnownHostsFile={path}"]
        for path in self.key_files:
            options += ["-i", path]
        if self.proxy_command:
            options += ["-o", f"ProxyCommand={self.proxy_command}"]
        if self.proxy_jump:
            options += ["-J", self.proxy_jump]
        return options

    def destination(self) -> str:
        return f"{self.user}@{self.hostname}" if self.user else self.hostname


def ssh_config_path(ssh_config: Path | None = None) -> Path:
    """The ssh config file rhcli reads: ssh_config, $RHCLI_SSH_CONFIG or ~/.ssh/config."""
    return (ssh_config or Path(os.environ.get(SSH_CONFIG_ENV, "~/.ssh/config"))).expanduser()


def resolve_target(
    host: str,
    *,
    user: str | None = None,
    port: int | None = None,
    key: str | None = None,
    known_hosts: str | None = None,
    accept_new_host_key: bool = False,
    ssh_config: Path | None = None,
) -> SSHTarget:
    """Apply ~/.ssh/config to host, then the explicit settings on top."""
    config_path = ssh_config_path(ssh_config)
    found: dict[str, Any] = {}
    if config_path.is_file():
        import paramiko

        found = paramiko.SSHConfig.from_path(str(config_path)).lookup(host)
    key_files = (key,) if key else tuple(found.get("identityfile", ()))
    known = known_hosts or os.environ.get("RHCLI_KNOWN_HOSTS")
    known_files = (
        (known,)
        if known
        else tuple(p for p in str(found.get("userknownhostsfile", "~/.ssh/known_hosts")).split())
    )
    return SSHTarget(
        alias=host,
        hostname=str(found.get("hostname", host)),
        port=int(port or found.get("port", 22)),
        user=user or found.get("user"),
        key_files=tuple(str(Path(k).expanduser()) for k in key_files),
        proxy_command=found.get("proxycommand"),
        proxy_jump=found.get("proxyjump"),
        known_hosts=tuple(str(Path(k).expanduser()) for k in known_files),
        accept_new_host_key=accept_new_host_key,
    )
