"""What one rhcli process leaves the next about an SSH cluster: its warm state.

A new process (each `rhcli run` of a shell loop) would otherwise redo what the last one
found out: resolve ~/.ssh/config, probe the host (a remote shell start-up) for its root,
its daemon's port and token, and rsync an unchanged repository (another shell start-up).
The first process that connects writes here what it found; later ones read it and go
straight to the daemon through the cluster's OpenSSH master (rhcli.transport.ssh_master),
checking it with one Health call. Anything that no longer holds (the daemon restarted:
another token or port; the master cannot start) sends the process down the full path,
which writes the state anew.

The file is ``<state dir>/ssh-control/<cluster key>.json``, mode 0600 in that 0700
folder, beside the master's control socket: it holds the daemon's token, which that
socket (able to run any command on the host) outranks anyway. `rhcli down` deletes it.
A state that cannot be written costs the next process the full path, nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli._version import __version__
from rhcli.clusters.base import check_version
from rhcli.errors import AuthError, RhcliError
from rhcli.transport.ssh_master import Master
from rhcli.transport.ssh_target import SSHTarget, ssh_config_path

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

log = logging.getLogger(__name__)

_FORMAT = 1


@dataclass
class WarmState:
    """What a process needs to reach the daemon and skip work already done."""

    target: SSHTarget  # ~/.ssh/config applied (not re-read while the file is unchanged)
    root: str  # the host's rhcli root, absolute
    port: int  # the daemon's port on the host's loopback
    token: str
    pid: int
    build: str  # the rhcli build installed on the host ("" when unknown)
    # local repository -> (its copy on the host, the fingerprint last synced there)
    synced: dict[str, tuple[str, str]] = field(default_factory=dict)


def cluster_key(name: str, settings: dict[str, Any], home: str) -> str:
    """A name for one cluster as configured: its settings, this client's known_hosts
    override, and the ssh config file (its path, size and mtime: an edit of it is
    another key). Files the ssh config includes are not looked at."""
    config = ssh_config_path()
    try:
        stat = config.stat()
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    parts = (
        name,
        sorted(settings.items()),
        home,
        os.environ.get("RHCLI_KNOWN_HOSTS"),
        str(config),
        stamp,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


class WarmStore:
    """The warm state of one cluster in the file at path; every method is idempotent and
    none raises for a missing, unreadable or unwritable file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> WarmState | None:
        """The state, or None when there is none (or it is of another rhcli)."""
        try:
            found = json.loads(self.path.read_text())
            if found.get("format") != _FORMAT or found.get("rhcli") != __version__:
                return None
            target = found["target"]
            return WarmState(
                target=SSHTarget(
                    **{
                        **target,
                        "key_files": tuple(target["key_files"]),
                        "known_hosts": tuple(target["known_hosts"]),
                    }
                ),
                root=str(found["root"]),
                port=int(found["port"]),
                token=str(found["token"]),
                pid=int(found["pid"]),
                build=str(found["build"]),
                synced={k: (str(v[0]), str(v[1])) for k, v in found["synced"].items()},
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring the warm state %s: %s", self.path, exc)
            return None

    def save(self, state: WarmState) -> None:
        """Write state whole (a temporary file, renamed), mode 0600 from the start."""
        target = dataclasses.asdict(state.target)
        target["accept_new_host_key"] = False  # an acceptance is for one command only
        document = {
            "format": _FORMAT,
            "rhcli": __version__,
            **dataclasses.asdict(state),
            "target": target,
        }
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(document, f)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not keep the SSH cluster's state in %s: %s", self.path, exc)
            with contextlib.suppress(OSError):  # its folder may be what failed
                tmp.unlink(missing_ok=True)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def synced(self, local_root: Path) -> tuple[str, str] | None:
        """(remote dir, fingerprint) of local_root's last sync, if recorded."""
        state = self.load()
        return None if state is None else state.synced.get(str(local_root))

    def record_sync(self, local_root: Path, remote_dir: str, fingerprint: str) -> None:
        """Note that local_root, as fingerprint says, is now at remote_dir."""
        state = self.load()
        if state is not None and state.synced.get(str(local_root)) != (remote_dir, fingerprint):
            state.synced[str(local_root)] = (remote_dir, fingerprint)
            self.save(state)


def connect_warm(
    cluster: str, store: WarmStore, master: Master
) -> tuple[DaemonClient, WarmState] | None:
    """A client of the cluster's daemon through the master (started if it is not
    running), as the warm state says, checked by one Health call; None when there is no
    state or it no longer holds (then the state is forgotten and its forward dropped).
    Raises VersionMismatchError for a daemon of another version."""
    state = store.load()
    if state is None:
        return None
    path = master.forward(state.port) if master.ensure() else None
    if path is None:
        return None
    client = daemon_client(cluster, f"unix:{path}", state.token, state.pid)
    try:
        health = client.health()
    except AuthError:  # restarted on the same port (another token): the full path
        client.close()
        store.forget()
        return None
    except RhcliError:  # nothing answers on that port any more: the full path
        client.close()
        master.drop_forward(state.port)
        store.forget()
        return None
    try:
        check_version(cluster, health.version, update_command=f"rhcli up {cluster}")
    except BaseException:
        client.close()
        raise
    return client, state


def daemon_client(cluster: str, address: str, token: str, pid: object) -> DaemonClient:
    """A client of the cluster's daemon (pid) at address."""
    from rhcli.transport.grpc_client import DaemonClient

    return DaemonClient(
        address=address,
        token=token,
        describe=f"the daemon on {cluster} (pid {pid})",
        restart_hint=f"Restart it with `rhcli restart {cluster}`.",
    )
