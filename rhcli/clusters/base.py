"""What every kind of cluster is: the Cluster base class and the pieces all kinds share.

A Cluster knows how to reach its daemon (starting it when it may), how a local code root
maps to a path on the cluster, and how to install requirements there. Each kind lives in
its own module (local, ssh, multinode, sky); ``rhcli.clusters.registry`` is the only
module that knows them all.

Shared here, so each exists once:
- ``ClusterStatus.from_health``: the status built from the daemon's Health reply;
- ``check_version``: a daemon of another version is refused, naming both versions and the
  command that updates it;
- ``Cluster.call_daemon``: an RPC that reconnects and retries once when the daemon
  restarted since the connection was made.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rhcli._version import __version__
from rhcli.errors import (
    AuthError,
    DaemonNotRunningError,
    UsageError,
    VersionMismatchError,
)

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

_T = TypeVar("_T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandResult:
    """One shell command run on the cluster."""

    command: str
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class ClusterStatus:
    """What `rhcli status` shows: the cluster, and its daemon when one runs (up)."""

    name: str
    type: str
    up: bool
    address: str = ""
    version: str = ""
    pid: int = 0
    uptime_s: float = 0.0
    home: str = ""
    python: str = ""
    resources: dict[str, float] = field(default_factory=dict)
    available: dict[str, float] = field(default_factory=dict)
    runs_running: int = 0
    runs_queued: int = 0
    # Each non-empty enqueue queue (by function name): runs waiting plus the one running.
    queue_depths: dict[str, int] = field(default_factory=dict)
    workers: int = 0
    # One entry per Ray node (see node_records); empty when the cluster is down.
    nodes: list[dict[str, Any]] = field(default_factory=list)
    # Why it is down, for people, when more is known than "no daemon answers".
    reason: str = ""

    @classmethod
    def from_health(
        cls,
        *,
        name: str,
        type: str,
        address: str,
        health: Any,
        nodes: list[dict[str, Any]] | None = None,
    ) -> ClusterStatus:
        """The status of an up cluster from its daemon's Health reply."""
        return cls(
            name=name,
            type=type,
            up=True,
            address=address,
            version=health.version,
            pid=health.pid,
            uptime_s=health.uptime_s,
            home=health.home,
            python=health.python,
            resources=dict(health.resources),
            available=dict(health.available),
            runs_running=health.runs_running,
            runs_queued=health.runs_queued,
            queue_depths=dict(health.queue_depths),
            workers=health.workers,
            nodes=list(nodes or []),
        )


def node_records(reply: Any) -> list[dict[str, Any]]:
    """The Nodes reply as plain values, one dict per Ray node (alive ones first):

    node_id, address, alive, head, resources (its Ray total: CPU, GPU, memory, ...);
    what it uses now: cpu_percent (None when not read), memory_used and memory_total
    (bytes; total 0 when not read), gpus (one dict per NVIDIA device: index, name,
    utilization in percent, memory_used, memory_total; none where it has none),
    usage_error (why figures are missing, "" when none are); and runs (the ids of runs
    running on it now, a map's id once).
    """
    return [
        {
            "node_id": node.node_id,
            "address": node.address,
            "alive": node.alive,
            "head": node.head,
            "resources": dict(node.resources),
            "cpu_percent": node.cpu_percent if node.HasField("cpu_percent") else None,
            "memory_used": node.memory_used,
            "memory_total": node.memory_total,
            "gpus": [
                {
                    "index": gpu.index,
                    "name": gpu.name,
                    "utilization": gpu.utilization,
                    "memory_used": gpu.memory_used,
                    "memory_total": gpu.memory_total,
                }
                for gpu in node.gpus
            ],
            "usage_error": node.usage_error,
            "runs": list(node.runs),
        }
        for node in reply.nodes
    ]


def check_version(cluster: str, daemon_version: object, *, update_command: str) -> None:
    """Raise VersionMismatchError unless the daemon runs this client's version."""
    if daemon_version != __version__:
        raise VersionMismatchError(
            cluster=cluster,
            client_version=__version__,
            daemon_version=str(daemon_version),
            update_command=update_command,
        )


class Cluster:
    """Base of every kind of cluster. Methods block until done; all are idempotent."""

    type = "abstract"

    def __init__(self, name: str) -> None:
        self.name = name
        self._installed: set[tuple[str, tuple[str, ...]]] = set()
        self._lock = threading.RLock()
        self._client: DaemonClient | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def client(self, *, start: bool = True) -> DaemonClient:
        """A connected client of this cluster's daemon; one per cluster object, shared by
        every call. With start (the default) it brings the cluster and its daemon up if
        it may; without, it starts nothing and raises DaemonNotRunningError (saying how
        to start it) when the daemon is down: what read-only commands use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect(start=start)
            return self._client

    def call_daemon(self, rpc: Callable[[DaemonClient], _T], *, start: bool = True) -> _T:
        """rpc(client) on this cluster's daemon (start: as for client()). When the daemon
        restarted since we connected (another port, or the same one with a new token),
        connect anew and try once more: run ids make that safe (a run the old daemon
        recorded is answered for, never run twice; a refused call never ran), and run
        records outlive the daemon."""
        try:
            return rpc(self.client(start=start))
        except (DaemonNotRunningError, AuthError) as exc:
            log.debug("%s: %s; connecting anew and trying once more", self.name, exc)
            self.reset_client()
            return rpc(self.client(start=start))

    def _connect(self, *, start: bool) -> DaemonClient:
        """Reach the daemon (starting it when start and it may), check its version."""
        raise NotImplementedError

    def reset_client(self) -> None:
        """Forget the connection, so the next client() connects (and starts) anew."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def prepare(self, local_root: Path) -> None:
        """Make the code under local_root current on the cluster before a call."""

    def code_root(self, local_root: Path) -> str:
        """Where the code under local_root lives on the cluster."""
        raise NotImplementedError

    def up(self, *, accept_host_key: bool = False) -> Cluster:
        """Bring the cluster and its daemon up (idempotent); returns self.

        accept_host_key: trust an SSH host whose key is not known yet (clusters reached
        over SSH; others ignore it)."""
        self.client()
        return self

    def up_if_not(self) -> Cluster:
        return self.up()

    def is_up(self) -> bool:
        return self.status().up

    def status(self) -> ClusterStatus:
        raise NotImplementedError

    def nodes(self) -> list[dict[str, Any]]:
        """The cluster's Ray nodes and what each uses now (see node_records); brings the
        cluster up like any call."""
        return node_records(self.call_daemon(lambda client: client.nodes()))

    def down(self) -> bool:
        raise NotImplementedError

    def restart_server(self) -> Cluster:
        self.down()
        return self.up()

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> Any:
        """Bring the cluster's copy of the repository up to date (a no-op where code runs
        in place)."""
        raise NotImplementedError

    def run(self, commands: list[str]) -> list[CommandResult]:
        raise NotImplementedError

    def ssh(self) -> None:
        raise NotImplementedError

    def endpoint_address(self, remote_port: int) -> str:
        """host:port on this machine where the cluster's HTTP endpoints answer, given the
        port Serve's proxy has on the cluster (this machine: that port itself)."""
        return f"127.0.0.1:{remote_port}"

    def public_host(self) -> str:
        """The address others reach the cluster's head on (for public endpoints): this
        machine's name when it resolves off the loopback, else the address of the
        interface its default route leaves by (the loopback only when it has none)."""
        import ipaddress
        import socket

        name = socket.getfqdn()
        try:
            if not ipaddress.ip_address(socket.gethostbyname(name)).is_loopback:
                return name
        except (OSError, ValueError):
            pass
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
                return str(probe.getsockname()[0])
            except OSError:
                return "127.0.0.1"

    def close_endpoint_forward(self) -> None:
        """Stop forwarding a local port to the endpoints (nothing to do here)."""

    def daemon_log(self, lines: int = 50) -> tuple[str, str]:
        """The daemon's own log: (its path on the cluster, its last lines)."""
        reply = self.call_daemon(lambda client: client.daemon_log(lines))
        return str(reply.path), str(reply.text)

    def install_packages(
        self, reqs: list[str], *, local_root: Path | None = None, echo: bool = True
    ) -> bool:
        """Install reqs into the cluster's environment; False when nothing had to be done.

        pip's output is echoed to stderr while it runs; a failed install raises UsageError
        carrying pip's last lines.
        """
        from rhcli.function_ref import project_root

        local = local_root or project_root()
        self.prepare(local)  # local-path reqs are installed from the cluster's copy
        root = self.code_root(local)
        lines: list[str] = []
        for event in self.client().install_reqs(list(reqs), root):
            if event.WhichOneof("event") == "line":
                lines.append(event.line)
                if echo:
                    print(event.line, file=sys.stderr, flush=True)
                continue
            done = event.done
            if not done.ok:
                tail = "\n".join(lines[-20:])
                raise UsageError(
                    f"installing {', '.join(reqs)} on {self.name} failed: {done.reason}\n{tail}"
                )
            return not done.skipped
        raise DaemonNotRunningError(f"{self.name}: the install ended without an answer")

    def ensure_reqs(self, reqs: tuple[str, ...], local_root: Path) -> None:
        """Install reqs once per process; the daemon skips sets it installed before."""
        key = (str(local_root), reqs)
        if not reqs or key in self._installed:
            return
        with self._lock:
            if key not in self._installed:
                self.install_packages(list(reqs), local_root=local_root)
                self._installed.add(key)
