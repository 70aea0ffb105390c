"""Clusters: where calls run. ``rh.cluster(name)`` and the local cluster (``rh.here``).

A Cluster knows how to reach its daemon (starting it when it may), how a local code root
maps to a path on the cluster, and how to install requirements there. Cluster objects are
cached per process and name, so every call reuses one channel to one daemon.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli._version import __version__
from rhcli.config.paths import rhcli_home
from rhcli.errors import (
    AuthError,
    DaemonNotRunningError,
    NotSupportedError,
    UsageError,
    VersionMismatchError,
)
from rhcli.clusters.local_daemon import LocalDaemon

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient


def say(message: str) -> None:
    """A progress note for people (bootstrap, launch, node steps): on stderr, flushed, so
    stdout keeps only results."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class CommandResult:
    """One shell command run on the cluster."""

    command: str
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class ClusterStatus:
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
    # Multi-node clusters: one entry per Ray node (node_id, address, alive, head,
    # resources); empty for a single host.
    nodes: list[dict[str, Any]] = field(default_factory=list)


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

    def client(self) -> DaemonClient:
        """A connected client of this cluster's daemon (brings the cluster up if it may);
        one per cluster object, shared by every call."""
        with self._lock:
            if self._client is None:
                self._client = self._connect(start=True)
            return self._client

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

    def up(self) -> Cluster:
        """Bring the cluster and its daemon up (idempotent); returns self."""
        self.client()
        return self

    def up_if_not(self) -> Cluster:
        return self.up()

    def is_up(self) -> bool:
        return self.status().up

    def status(self) -> ClusterStatus:
        raise NotImplementedError

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


class LocalCluster(Cluster):
    """This machine. Code runs in place (no sync); the daemon runs from this interpreter,
    so reqs install into this environment."""

    type = "local"

    def __init__(self, name: str = "local", *, home: Path | None = None) -> None:
        super().__init__(name)
        self.daemon = LocalDaemon(home or rhcli_home())

    def code_root(self, local_root: Path) -> str:
        return str(local_root)

    def status(self) -> ClusterStatus:
        state = self.daemon.state()
        if state is None:
            return ClusterStatus(
                name=self.name, type=self.type, up=False, home=str(self.daemon.paths.root)
            )
        health = self._connect(start=False).health()
        return ClusterStatus(
            name=self.name,
            type=self.type,
            up=True,
            address=state.address,
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
        )

    def down(self) -> bool:
        """Stop the daemon (and its Ray); False when none was running."""
        with self._lock:
            self.reset_client()
            self._installed.clear()
            return self.daemon.stop()

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> None:
        """Nothing to do: the local cluster runs the repository in place."""

    def run(self, commands: list[str]) -> list[CommandResult]:
        """Run shell commands (the user's own command strings) on this machine."""
        from rhcli.function_ref import project_root

        results = []
        for command in commands:
            # The user hands us shell command lines on purpose; we build none ourselves.
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                capture_output=True,
                text=True,
                cwd=project_root(),
                check=False,
            )
            results.append(CommandResult(command, done.returncode, done.stdout, done.stderr))
        return results

    def ssh(self) -> None:
        raise NotSupportedError("the local cluster is this machine: there is nothing to ssh to")

    def _connect(self, *, start: bool) -> DaemonClient:
        from rhcli.transport.grpc_client import DaemonClient

        state = self.daemon.state()
        if state is None:
            if not start:
                raise DaemonNotRunningError(
                    f"the local daemon is not running (root {self.daemon.paths.root}); "
                    "start it with `rhcli up local`"
                )
            state = self.daemon.start(
                on_wait=f"Starting the rhcli daemon for {self.name} (Ray takes a few seconds)..."
            )
        hint = "Restart it with `rhcli restart local`."
        for attempt in (1, 2):
            client = DaemonClient(
                address=state.address,
                token=self.daemon.read_token(),
                describe=f"the local daemon (pid {state.pid})",
                restart_hint=hint,
            )
            try:
                health = client.health()
            except AuthError:
                # The daemon restarted between reading its state and its token: read again.
                client.close()
                if attempt == 2:
                    raise
                time.sleep(0.2)
                continue
            if health.version != __version__:
                client.close()
                raise VersionMismatchError(
                    cluster=self.name, client_version=__version__, daemon_version=health.version
                )
            return client
        raise AssertionError("unreachable")


_clusters: dict[tuple[str, str], Cluster] = {}
_clusters_lock = threading.Lock()


def cluster(
    name: str | None = None,
    *,
    host: str | None = None,
    hosts: list[str] | tuple[str, ...] | None = None,
    user: str | None = None,
    port: int | None = None,
    key: str | None = None,
    home: str | None = None,
    manifest: str | None = None,
) -> Cluster:
    """A cluster: by name from runhouse.yaml (None: its default_cluster; "local": this
    machine, also without a manifest), or an SSH host given here (``host=``, or
    ``hosts=[head, worker, ...]`` for one Ray cluster over several hosts, with ``user``,
    ``port``, ``key``, ``home``). Cached: the same name gives the same object."""
    from rhcli.config.manifest import ClusterSpec, load

    if host is not None and hosts:
        raise UsageError("give either host= (one machine) or hosts= (several), not both")
    if host is not None or hosts:
        head = host if host is not None else hosts[0]  # type: ignore[index]
        spec = ClusterSpec(
            name=name or head,
            type="ssh",
            host=head,
            hosts=tuple(hosts or ()),
            user=user,
            port=port,
            key=key,
            home=home,
        )
        key_ = ("", repr(spec))
    else:
        spec_manifest = load(manifest)
        spec = spec_manifest.cluster(name)
        key_ = (str(spec_manifest.path), spec.name)
    with _clusters_lock:
        found = _clusters.get(key_)
        if found is None:
            found = _from_spec(spec)
            _clusters[key_] = found
        return found


def _from_spec(spec: object) -> Cluster:
    from rhcli.config.manifest import ClusterSpec

    assert isinstance(spec, ClusterSpec)
    if spec.type == "local":
        home = Path(spec.home).expanduser().resolve() if spec.home else None
        return LocalCluster(spec.name, home=home)
    if spec.type == "ssh":
        from rhcli.clusters.ssh import SSHCluster

        if len(spec.hosts) > 1:
            from rhcli.clusters.multinode import MultiNodeSSHCluster

            return MultiNodeSSHCluster(
                spec.name,
                hosts=list(spec.hosts),
                user=spec.user,
                port=spec.port,
                key=spec.key,
                home=spec.home,
                accept_host_key=_accept_host_keys(),
            )
        return SSHCluster(
            spec.name,
            host=spec.host or spec.hosts[0],
            user=spec.user,
            port=spec.port,
            key=spec.key,
            home=spec.home,
            accept_host_key=_accept_host_keys(),
        )
    if spec.type == "sky":
        from rhcli.clusters.sky import OnDemandCluster

        return OnDemandCluster(spec)
    raise NotSupportedError(
        f"cluster {spec.name!r} is of type {spec.type}, which this version of rhcli "
        f"({__version__}) cannot drive yet; use a local or ssh cluster"
    )


def _accept_host_keys() -> bool:
    """`--accept-host-key` (RHCLI_ACCEPT_HOST_KEY=1): trust an unknown host's key once."""
    import os

    return os.environ.get("RHCLI_ACCEPT_HOST_KEY") == "1"
