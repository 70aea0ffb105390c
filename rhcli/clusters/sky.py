"""On-demand clusters: launched through SkyPilot when down, then used as an SSH cluster.

The first step of every call is "is the cluster up?". For an OnDemandCluster that asks
SkyPilot (through the launcher, rhcli.clusters.sky_launcher, the only module that imports `sky`):
a cluster that is up is reused as it is, never relaunched; one that is missing, stopped
or broken is launched (SkyPilot's progress on stderr), and a launch that fails raises
LaunchError (exit 3) with SkyPilot's reason. The nodes' addresses (head first), SSH user
and key then go to an SSHCluster (one node) or a MultiNodeSSHCluster (`num_nodes` above
1: Ray over every node, the daemon on the head), which does everything after (bootstrap,
tunnel, sync, reqs, calls) exactly as for a `type: ssh` cluster of those hosts. The nodes
of a multi-node cluster are reached on their external addresses; one SkyPilot knows only
by a private address (a private-only cluster, reached through a jump host or from inside
its network) is refused with NotSupportedError. A one-node cluster is reached where
SkyPilot reaches its head.

Host keys: SkyPilot creates the VMs, so their keys cannot be known beforehand. Each
cluster has one known_hosts file for all its nodes under ``<rhcli root>/sky/``, emptied at
every launch and teardown; the first connection to a node after a launch records its
key, and every later connection must present the same key.

Autostop: a keep-alive process on the head node (rhcli.clusters.sky_keepalive) resets SkyPilot's
idle timer while the daemon has runs running or queued, so no run is cut short, detached
runs included.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rhcli.clusters.base import Cluster, ClusterStatus, CommandResult
from rhcli.clusters.sky_launcher import Launcher, SkyRecord, load_launcher
from rhcli.config.paths import DEFAULT_HOME, rhcli_home
from rhcli.errors import (
    DaemonNotRunningError,
    LaunchError,
    NotSupportedError,
    RhcliError,
    UnreachableError,
    UsageError,
)
from rhcli.progress import say

if TYPE_CHECKING:
    from rhcli.clusters.ssh import SSHCluster
    from rhcli.config.schema import ClusterSpec
    from rhcli.transport.grpc_client import DaemonClient
    from rhcli.transport.sync import SyncResult

_T = TypeVar("_T")

# How often the keep-alive asks the daemon whether runs are in flight (one Health RPC on
# loopback). SkyPilot checks idleness once a minute; polling six times as often keeps its
# idle time at zero while busy and leaves only runs under 10 s unseen.
KEEPALIVE_POLL_S = 10.0


class OnDemandCluster(Cluster):
    """A cluster SkyPilot launches on demand. Methods block; all are idempotent."""

    type = "sky"

    def __init__(self, spec: ClusterSpec, *, launcher: Launcher | None = None) -> None:
        super().__init__(spec.name)
        self.spec = spec
        self.state_dir = rhcli_home() / "sky"
        self.launcher = launcher or load_launcher(spec.name, self.state_dir)
        self._head: SSHCluster | None = None
        self._head_for_record: tuple[Any, ...] = ()
        self._recheck = True  # ask SkyPilot again before the next use of the head
        self._keepalive_for: object = None  # the daemon pid a keep-alive was started for

    def __repr__(self) -> str:
        return f"<OnDemandCluster {self.name!r} {self.spec.instance_type or 'any'}>"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / f"{self.name}.known_hosts"

    # --- SkyPilot's side ----------------------------------------------------------------

    def sky_status(self) -> SkyRecord | None:
        """SkyPilot's record of this cluster (status, resources, autostop, cost per hour);
        None when SkyPilot has none. Launches nothing."""
        return self.launcher.record(self.name)

    def autostop(self, minutes: int | None) -> None:
        """Stop the cluster after `minutes` idle (None: never). The cluster must be up."""
        if minutes is not None and minutes < 0:
            raise UsageError(f"autostop minutes must be 0 or more, not {minutes}")
        self.launcher.set_autostop(self.name, minutes)

    def head(self, *, launch: bool) -> SSHCluster:
        """The SSH cluster of the head node; launches the cluster first when it is not up
        and launch is true, else raises DaemonNotRunningError."""
        with self._lock:
            if self._head is not None and not self._recheck:
                return self._head
            record = self.launcher.record(self.name)
            if record is None or not record.up:
                if not launch:
                    state = record.status if record else "not launched"
                    raise DaemonNotRunningError(
                        f"sky cluster {self.name!r} is {state}; launch it with "
                        f"`rhcli up {self.name}`"
                    )
                record = self._launch()
            head = self._head_from(record)
            self._recheck = False
            return head

    def _launch(self) -> SkyRecord:
        spec = self.spec
        say(
            f"{self.name}: launching through SkyPilot ({spec.instance_type or 'any machine'}"
            f"{' on ' + spec.provider if spec.provider else ''}); this takes minutes"
        )
        self.known_hosts.unlink(missing_ok=True)  # a new VM: a new host key
        # ... and a new disk, even at the old address: nothing synced or installed there.
        if self._head is not None:
            self._head.reset_client()
        self._head, self._head_for_record = None, ()
        self._installed.clear()
        self.launcher.launch(spec)
        record = self.launcher.record(self.name)
        if record is None or not record.up:
            state = record.status if record else "missing"
            raise LaunchError(cluster=self.name, reason=f"SkyPilot reports it {state}")
        return record

    def _head_from(self, record: SkyRecord) -> SSHCluster:
        """The SSH cluster over the record's nodes (the same object while they stay as
        they were): an SSHCluster for one node, a MultiNodeSSHCluster for several."""
        from rhcli.clusters.ssh import SSHCluster

        if record.proxy_command:
            raise NotSupportedError(
                f"SkyPilot reaches {self.name!r} through a proxy command (Kubernetes, Slurm "
                "or a jump host), which this version of rhcli does not drive"
            )
        seen = _reach(record)
        hosts, ports = seen[0], seen[1]
        if not hosts:
            raise UnreachableError(f"SkyPilot has no address for the head of {self.name!r}")
        if "" in hosts:
            which = hosts.index("")
            raise NotSupportedError(
                f"node {which}{' (the head)' if which == 0 else ''} of sky cluster "
                f"{self.name!r} has no external IP address, only a private one: "
                "private-only clusters (reached through a jump host or from inside their "
                "network) are not supported by this version of rhcli. Launch it with public "
                "IPs (SkyPilot's use_internal_ips off), or use a `type: ssh` cluster listing "
                "addresses this machine reaches"
            )
        if record.nodes > len(hosts):
            raise UnreachableError(
                f"SkyPilot knows the address of {len(hosts)} of the {record.nodes} nodes of "
                f"{self.name!r}; refresh SkyPilot's record with `sky status -r {self.name}`"
            )
        if self._head is not None and seen == self._head_for_record:
            return self._head
        if self._head is not None:
            self._head.reset_client()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # accept_host_key: only into this cluster's own known_hosts; see the docstring.
        if len(hosts) > 1:
            from rhcli.clusters.multinode import MultiNodeSSHCluster

            self._head = MultiNodeSSHCluster(
                self.name,
                hosts=list(hosts),
                ports=list(ports),
                user=record.ssh_user,
                key=record.key_path,
                home=self.spec.home,
                known_hosts=str(self.known_hosts),
                accept_host_key=True,
            )
        else:
            self._head = SSHCluster(
                self.name,
                host=hosts[0],
                user=record.ssh_user,
                port=ports[0],
                key=record.key_path,
                home=self.spec.home,
                known_hosts=str(self.known_hosts),
                accept_host_key=True,
            )
        self._head_for_record = seen
        self._keepalive_for = None
        return self._head

    # --- the daemon, as on an SSH cluster -------------------------------------------------

    def _on_head(self, use: Callable[[SSHCluster], _T]) -> _T:
        """use(head), launching first when needed. When SSH fails and SkyPilot no longer
        has the head we knew up (autostopped, preempted, relaunched elsewhere), forget it
        and go again: a long-lived process relaunches instead of failing every call."""
        head = self.head(launch=True)
        try:
            return use(head)
        except UnreachableError:
            record = self.launcher.record(self.name)
            known = record is not None and record.up
            if known and record is not None and self._head_for_record == _reach(record):
                raise  # the VM is up as we knew it: an SSH problem of its own
            with self._lock:
                head.reset_client()
                self._recheck = True
            return use(self.head(launch=True))

    def client(self, *, start: bool = True) -> DaemonClient:
        with self._lock:
            if start:
                return self._on_head(self._client_on)
            # Read-only: no launch, no daemon start, and not even SkyPilot's API server.
            problem = self.launcher.server_problem()
            if problem:
                raise DaemonNotRunningError(self._server_down(problem))
            return self.head(launch=False).client(start=False)

    def _server_down(self, problem: str) -> str:
        return (
            f"{problem}, and rhcli starts it only to use the cluster: the state of sky "
            f"cluster {self.name!r} is unknown. `sky api start` starts it (so does "
            f"`rhcli up {self.name}`)"
        )

    def _client_on(self, head: SSHCluster) -> DaemonClient:
        client = head.client()
        pid = (head.host().daemon or {}).get("pid")
        if pid != self._keepalive_for:
            self._start_keepalive(head)
            self._keepalive_for = pid
        return client

    def _start_keepalive(self, head: SSHCluster) -> None:
        """Start rhcli.clusters.sky_keepalive beside the daemon (a second one exits at once)."""
        host = head.host()
        root = host.root
        argv = [
            host.venv_python,
            "-m",
            "rhcli.clusters.sky_keepalive",
            root,
            str(KEEPALIVE_POLL_S),
            "--",
            *self.launcher.keepalive_argv(),
        ]
        head.connection().run_shell(
            f"RHCLI_HOME={shlex.quote(root)} setsid --fork {shlex.join(argv)} "
            f"</dev/null >>{shlex.quote(root + '/keepalive.log')} 2>&1"
        )

    def reset_client(self) -> None:
        with self._lock:
            if self._head is not None:
                self._head.reset_client()
            self._recheck = True  # the VM may have been stopped meanwhile

    def prepare(self, local_root: Path) -> None:
        self._on_head(lambda head: head.prepare(local_root))

    def code_root(self, local_root: Path) -> str:
        return self._on_head(lambda head: head.code_root(local_root))

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> SyncResult:
        return self._on_head(lambda head: head.sync(local_root, dry_run=dry_run))

    def run(self, commands: list[str]) -> list[CommandResult]:
        return self._on_head(lambda head: head.run(commands))

    def endpoint_address(self, remote_port: int) -> str:
        return self._on_head(lambda head: head.endpoint_address(remote_port))

    def public_host(self) -> str:
        return self.head(launch=False).public_host()

    def close_endpoint_forward(self) -> None:
        if self._head is not None:
            self._head.close_endpoint_forward()

    def ssh(self) -> None:
        head = self.head(launch=True)
        head.connection()  # learns the host key first: the system ssh checks it strictly
        head.ssh()

    # --- lifecycle ----------------------------------------------------------------------

    def up(self, *, accept_host_key: bool = False) -> Cluster:
        """Launch the cluster unless it is up, then install/start the daemon and sync.

        Host keys are learnt into this cluster's own known_hosts (see the module
        docstring); accept_host_key changes nothing here."""
        self.head(launch=True).up()
        self.client()
        return self

    def restart_server(self) -> Cluster:
        """Restart the daemon only; the VM stays as it is."""
        self.head(launch=True).restart_server()
        self.client()
        return self

    def sky_server_problem(self) -> str:
        """Empty when SkyPilot's API server answers; else why not. Starts nothing."""
        return self.launcher.server_problem()

    def status(self) -> ClusterStatus:
        """The daemon's status; `up` is False when SkyPilot or the daemon is not up.
        Starts nothing: no launch, no daemon, not SkyPilot's API server (when that is
        down, the status is down with the reason)."""
        home = self.spec.home or DEFAULT_HOME
        problem = self.launcher.server_problem()
        if problem:
            return ClusterStatus(
                name=self.name,
                type=self.type,
                up=False,
                home=home,
                reason=self._server_down(problem),
            )
        record = self.launcher.record(self.name)
        if record is None or not record.up:
            known = record.status if record else "not launched"
            return ClusterStatus(
                name=self.name,
                type=self.type,
                up=False,
                home=home,
                reason=f"sky cluster {self.name!r} is {known}; launch it with "
                f"`rhcli up {self.name}`",
            )
        with self._lock:
            head = self._head_from(record)
            self._recheck = False
        state = head.status()
        if state.up:
            self.client()  # the daemon is up: this only makes sure its keep-alive runs
        return dataclasses.replace(state, name=self.name, type=self.type)

    def down(self) -> bool:
        """Stop the daemon and tear the cluster down through SkyPilot (all billing stops,
        its disks are deleted); False when SkyPilot had no such cluster."""
        with self._lock:
            record = self.launcher.record(self.name)
            if record is not None and record.up and record.head_ip:
                try:
                    self._head_from(record).down()
                except RhcliError as exc:  # the teardown goes on: the VM is going anyway
                    say(f"{self.name}: could not stop the daemon first ({exc})")
            torn = self.launcher.down(self.name)
            if self._head is not None:
                self._head.reset_client()
            self._head, self._head_for_record, self._recheck = None, (), True
            self._installed.clear()
            self.known_hosts.unlink(missing_ok=True)
            (self.state_dir / f"{self.name}.key").unlink(missing_ok=True)
            return torn


def _reach(record: SkyRecord) -> tuple[Any, ...]:
    """How the record says to reach the nodes: (hosts, ports, user, key), head first;
    the head alone when SkyPilot listed no nodes."""
    hosts = record.node_ips
    if len(hosts) <= 1 and record.head_ip:
        # One node: the address SkyPilot itself uses for the head. For a cluster with
        # internal IPs only that is the private one, which works from inside its network.
        hosts = (record.head_ip,)
    ports = record.node_ports
    if len(ports) != len(hosts):
        ports = (record.ssh_port,) * len(hosts)
    return (tuple(hosts), tuple(ports), record.ssh_user, record.key_path)
