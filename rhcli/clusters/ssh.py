"""SSH clusters: a host you can `ssh` into, used exactly like the local cluster.

The flow of every call (DESIGN section 1): connect over SSH; find the daemon; if none runs,
install this client's rhcli in the host's venv (when not already there) and start it; read
its token over SSH; reach it through a local port forward; sync the repository; call.
A daemon of another version is never restarted behind the user's back during a call: the
call fails, naming both versions and `rhcli up NAME`, which updates it.

That full path runs once: it leaves the cluster's OpenSSH master running (the holder,
rhcli.transport.ssh_master) and what it found in the cluster's warm state
(rhcli.clusters.ssh_warm). A later process, or a later cluster object, goes through the
master to the daemon with one Health call, and syncs only when the repository's
fingerprint differs from the one last synced: no paramiko, no probe, no rsync.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rhcli._version import __version__
from rhcli.clusters.base import Cluster, ClusterStatus, CommandResult, check_version, node_records
from rhcli.clusters.ssh_forward import connect_forwarded
from rhcli.clusters.ssh_warm import WarmState, WarmStore, cluster_key, connect_warm
from rhcli.config.paths import DEFAULT_HOME
from rhcli.errors import DaemonNotRunningError, RhcliError, VersionMismatchError
from rhcli.progress import say
from rhcli.transport import bootstrap, http_forward, sync
from rhcli.transport.ssh_master import Master, control_dir
from rhcli.transport.ssh_target import SSHTarget, resolve_target

if TYPE_CHECKING:  # paramiko is imported only on the full path (see the module docstring)
    from rhcli.transport.grpc_client import DaemonClient
    from rhcli.transport.ssh import SSHConnection
    from rhcli.transport.tunnel import Tunnel


# A long-lived process checks its repository for edits at most this often before a call.
SYNC_CHECK_INTERVAL_S = 1.0
# Connecting reuses a probe this recent (each probe is a remote command: a shell start-up).
PROBE_REUSE_S = 2.0


class SSHCluster(Cluster):
    """A host reached over SSH; its rhcli root is `home` there (default ~/.rhcli)."""

    type = "ssh"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        user: str | None = None,
        port: int | None = None,
        key: str | None = None,
        home: str | None = None,
        accept_host_key: bool = False,
        known_hosts: str | None = None,
    ) -> None:
        super().__init__(name)
        # known_hosts: a file of this cluster's own (on-demand clusters keep one per
        # cluster); None: $RHCLI_KNOWN_HOSTS, else ~/.ssh/config's, else ~/.ssh/known_hosts.
        self._settings: dict[str, Any] = dict(
            host=host, user=user, port=port, key=key, known_hosts=known_hosts
        )
        self._accept_host_key = accept_host_key
        self._target: SSHTarget | None = None
        self._warm_store: WarmStore | None = None
        self._master: Master | None = None
        self._root = ""  # the host's rhcli root, once known (probe or warm state)
        self.home = home or DEFAULT_HOME
        self._conn: SSHConnection | None = None
        self._host: bootstrap.HostState | None = None
        self._tunnel: Tunnel | None = None
        self._synced: dict[Path, tuple[str, float]] = {}  # local root -> (fingerprint, when)
        self._host_at = 0.0  # when self._host was probed (time.monotonic())

    def __repr__(self) -> str:
        return f"<SSHCluster {self.name!r} {self.target.destination()}:{self.target.port}>"

    # --- connection -------------------------------------------------------------------

    @property
    def target(self) -> SSHTarget:
        """Where and how to connect: ~/.ssh/config applied to the cluster's settings (as
        the warm state kept it while that file is unchanged)."""
        with self._lock:
            if self._target is None:
                state = self.warm_store().load()
                if state is not None:
                    self._target = dataclasses.replace(
                        state.target, accept_new_host_key=self._accept_host_key
                    )
                else:
                    self._target = resolve_target(
                        **self._settings, accept_new_host_key=self._accept_host_key
                    )
            return self._target

    def accept_host_keys(self) -> None:
        """From now on, trust this cluster's hosts when their keys are not known yet."""
        with self._lock:
            self._accept_host_key = True
            self._target = dataclasses.replace(self.target, accept_new_host_key=True)

    def warm_store(self) -> WarmStore:
        """Where this cluster's warm state is kept (see rhcli.clusters.ssh_warm)."""
        if self._warm_store is None:
            key = cluster_key(self.name, self._settings, self.home)
            self._warm_store = WarmStore(control_dir() / f"{key}.json")
        return self._warm_store

    def master(self) -> Master:
        """This cluster's OpenSSH master connection (started by its first use)."""
        with self._lock:
            if self._master is None:
                self._master = Master(self.warm_store().path.stem, self.target)
            return self._master

    def connection(self) -> SSHConnection:
        from rhcli.transport.ssh import SSHConnection

        with self._lock:
            if self._conn is None or not self._conn.is_active():
                self._conn = SSHConnection(self.target)
            return self._conn

    def host(self, *, refresh: bool = False, max_age: float = 0.0) -> bootstrap.HostState:
        """What the probe found; probed again when refresh, unless the last probe is at
        most max_age seconds old (and no reset_client came since)."""
        with self._lock:
            stale = time.monotonic() - self._host_at > max_age
            if self._host is None or (refresh and stale):
                self._host = bootstrap.probe(self.connection(), self.home)
                self._host_at = time.monotonic()
                self._root = self._host.root
            return self._host

    def reset_client(self) -> None:
        with self._lock:
            super().reset_client()
            if self._tunnel is not None:
                self._tunnel.close()
            self._tunnel = self._host = None

    def _connect(self, *, start: bool) -> DaemonClient:
        client = self._connect_warm()
        return client if client is not None else self._connect_full(start=start)

    def _connect_warm(self) -> DaemonClient | None:
        """The daemon through the master, as the warm state says (None: the full path).
        Raises VersionMismatchError for a daemon of another version."""
        found = connect_warm(self.name, self.warm_store(), self.master())
        if found is not None:
            self._root = found[1].root
        return None if found is None else found[0]

    def _connect_full(self, *, start: bool) -> DaemonClient:
        conn = self.connection()
        # A probe of a moment ago (by up(), or by code_root() before a first call) will do.
        host = self.host(refresh=True, max_age=PROBE_REUSE_S)
        if not host.daemon_alive:
            if not start:
                raise DaemonNotRunningError(
                    f"no daemon runs on {self.name} ({self.target.destination()}); "
                    f"start it with `rhcli up {self.name}`"
                )
            bootstrap.install(conn, host, say=say)
            host = self.host(refresh=True)
            self._start_daemon(conn, host)
            host = self.host(refresh=True)
        daemon = host.daemon or {}
        update = f"rhcli up {self.name}"
        check_version(self.name, daemon.get("version"), update_command=update)
        token = daemon.get("token")  # read by the probe: no round trip of its own
        if not token:
            raise DaemonNotRunningError(
                f"cannot read the daemon's token on {self.name} ({host.root}/token); "
                f"restart it with `rhcli restart {self.name}`"
            )
        port = int(daemon["port"])
        client, self._tunnel = connect_forwarded(
            self.name, self.master(), conn, port, str(token), daemon.get("pid")
        )
        if self._tunnel is None:  # through the master: later processes may go straight there
            self.warm_store().save(
                WarmState(
                    target=self.target,
                    root=host.root,
                    port=port,
                    token=str(token),
                    pid=int(daemon.get("pid") or 0),
                    build=str((host.installed or {}).get("build", "")),
                )
            )
        return client

    def _start_daemon(self, conn: SSHConnection, host: bootstrap.HostState) -> None:
        """Start the host's daemon (a multi-node cluster first brings up its Ray)."""
        bootstrap.start_daemon(conn, host)

    # --- code -------------------------------------------------------------------------

    def code_root(self, local_root: Path) -> str:
        """<root>/work/<folder>-<hash of its local path>: two repositories with the same
        folder name never share (and rsync --delete) one copy."""
        digest = hashlib.sha256(str(local_root.resolve()).encode()).hexdigest()[:8]
        return f"{self.remote_root()}/work/{local_root.name}-{digest}"

    def remote_root(self) -> str:
        """The host's rhcli root (absolute): from the warm state, else probed."""
        if not self._root:
            state = self.warm_store().load()
            self._root = state.root if state is not None else self.host().root
        return self._root

    def prepare(self, local_root: Path) -> None:
        """Sync local_root before a call when it changed since the last sync (of this
        process, or of any process since the cluster's warm state was written)."""
        root = local_root.resolve()
        last = self._synced.get(root)
        if last is not None and time.monotonic() - last[1] < SYNC_CHECK_INTERVAL_S:
            return
        the_plan = sync.plan(root)
        if self.warm_store().synced(root) == (self.code_root(root), the_plan.fingerprint):
            self._synced[root] = (the_plan.fingerprint, time.monotonic())
            return
        self.sync(root)
        self._remember_sync(root)

    def _remember_sync(self, root: Path) -> None:
        """Tell later processes that root is synced as this process last saw it."""
        last = self._synced.get(root)
        if last is not None:
            self.warm_store().record_sync(root, self.code_root(root), last[0])

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> sync.SyncResult:
        """Make the host's copy of the repository equal the local one (an rsync, unless
        this process synced it unchanged already)."""
        from rhcli.function_ref import project_root

        root = (local_root or project_root()).resolve()
        the_plan = sync.plan(root)
        last = self._synced.get(root)
        if not dry_run and last is not None and last[0] == the_plan.fingerprint:
            self._synced[root] = (the_plan.fingerprint, time.monotonic())
            return sync.SyncResult()
        if not the_plan.in_git and the_plan.total_bytes > sync.LARGE_SYNC_BYTES:
            say(
                f"warning: {root} is not in a git repository; syncing all of it "
                f"({the_plan.total_bytes / 2**20:.0f} MiB)"
            )
        remote_dir = self.code_root(root)
        if the_plan.total_bytes >= sync.LARGE_SYNC_BYTES:  # a remote `df` first
            sync.check_free_space(self.connection(), the_plan, remote_dir)
        master = self.master()
        result = sync.rsync(
            self.target,
            the_plan,
            remote_dir,
            dry_run=dry_run,
            master=master.ssh_options() if master.ensure() else None,
        )
        if not dry_run:
            self._synced[root] = (the_plan.fingerprint, time.monotonic())
        return result

    # --- HTTP endpoints ---------------------------------------------------------------

    def endpoint_address(self, remote_port: int) -> str:
        """A local port forwarded to Serve's proxy on the head, held by a background
        process so the URL outlives this one (rhcli.transport.http_forward)."""
        return f"127.0.0.1:{http_forward.ensure_forward(self.name, self.target, remote_port)}"

    def public_host(self) -> str:
        return self.target.hostname

    def close_endpoint_forward(self) -> None:
        http_forward.stop_forward(self.name, self.target)

    # --- lifecycle --------------------------------------------------------------------

    def up(self, *, accept_host_key: bool = False) -> Cluster:
        """Install or update rhcli on the host, (re)start its daemon if needed, sync.

        accept_host_key: trust the host's key when it is not in known_hosts yet (it is
        added there); a changed key is refused all the same. When the warm state shows
        this client's build installed and its daemon answers, nothing is probed or
        installed, and the repository is synced only if it changed."""
        from rhcli.function_ref import project_root

        if accept_host_key:
            self.accept_host_keys()
        elif self._up_warm():
            return self
        self.warm_store().forget()  # the full path writes it anew
        conn = self.connection()
        host = self.host(refresh=True)
        changed = bootstrap.install(conn, host, say=say)
        daemon = host.daemon or {}
        restart = host.daemon_alive and (changed or daemon.get("version") != __version__)
        if restart:
            say(f"{self.name}: restarting the daemon to run rhcli {__version__}")
            bootstrap.stop_daemon(conn, host)
        self.reset_client()
        if not (changed or restart):  # the probe above still holds: connect without another
            with self._lock:
                self._host, self._host_at = host, time.monotonic()
        self.client()
        root = project_root()
        self.sync(root)
        self._remember_sync(root)
        return self

    def _up_warm(self) -> bool:
        """up() by the warm state: True when this client's build is installed, the
        daemon answers through the master, and the repository is synced."""
        from rhcli.function_ref import project_root

        state = self.warm_store().load()
        if state is None or state.build != bootstrap.build_id():
            return False
        self.reset_client()
        try:
            client = self._connect_warm()
        except VersionMismatchError:  # the full up() updates it
            return False
        if client is None:
            return False
        with self._lock:
            self._client = client
        self.prepare(project_root())
        return True

    def status(self) -> ClusterStatus:
        # Connected already (right after up), or through the master: the daemon's answer
        # is the status, no probe.
        health = None
        if self._client is None:
            warm = self._connect_warm()
            if warm is not None:
                with self._lock:
                    self._client = warm
        if self._client is not None:
            try:
                health = self._client.health()
            except RhcliError:  # gone since: the probe below says how things stand
                self.reset_client()
        if health is None:
            host = self.host(refresh=True)
            if not host.daemon_alive:
                return ClusterStatus(
                    name=self.name,
                    type=self.type,
                    up=False,
                    home=host.root,
                    address=f"{self.target.destination()}:{self.target.port}",
                )
            health = self.client(start=False).health()
        return ClusterStatus.from_health(
            name=self.name,
            type=self.type,
            address=f"{self.target.destination()}:{self.target.port}",
            health=health,
            nodes=node_records(self.client(start=False).nodes()),
        )

    def down(self) -> bool:
        """Stop the host's daemon (and its Ray); the host itself is left alone."""
        with self._lock:
            self.reset_client()
            self._installed.clear()
            self._synced.clear()
            self.warm_store().forget()
            self.master().close()
            self.close_endpoint_forward()  # its endpoints end with it
            host = self.host(refresh=True)
            return bootstrap.stop_daemon(self.connection(), host)

    def run(self, commands: list[str]) -> list[CommandResult]:
        """Run shell command lines (the user's own) on the host, in its home directory."""
        conn = self.connection()
        results = []
        for command in commands:
            done = conn.run_shell(command)
            results.append(CommandResult(command, done.returncode, done.stdout, done.stderr))
        return results

    def ssh(self) -> None:
        """Replace this process with an interactive `ssh` to the host."""
        argv = ["ssh", "-t", *self.target.ssh_options(), self.target.destination()]
        sys.stdout.flush()
        os.execvp("ssh", argv)  # noqa: S606 - argv list, no shell
