"""SSH clusters: a host you can `ssh` into, used exactly like the local cluster.

The flow of every call (DESIGN section 1): connect over SSH; find the daemon; if none runs,
install this client's rhcli in the host's venv (when not already there) and start it; read
its token over SSH; reach it through a local port forward; sync the repository; call.
A daemon of another version is never restarted behind the user's back during a call: the
call fails, naming both versions and `rhcli up NAME`, which updates it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rhcli._version import __version__
from rhcli.clusters.base import (
    Cluster,
    ClusterStatus,
    CommandResult,
    check_version,
    node_records,
)
from rhcli.config.paths import DEFAULT_HOME
from rhcli.errors import DaemonNotRunningError, HostSetupError, RhcliError, UnreachableError
from rhcli.progress import say
from rhcli.transport import bootstrap, http_forward, sync
from rhcli.transport.ssh import SSHConnection, SSHTarget, resolve_target
from rhcli.transport.tunnel import Tunnel

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

log = logging.getLogger(__name__)

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
        self.target: SSHTarget = resolve_target(
            host,
            user=user,
            port=port,
            key=key,
            known_hosts=known_hosts,
            accept_new_host_key=accept_host_key,
        )
        self.home = home or DEFAULT_HOME
        self._conn: SSHConnection | None = None
        self._host: bootstrap.HostState | None = None
        self._tunnel: Tunnel | None = None
        self._synced: dict[Path, tuple[str, float]] = {}  # local root -> (fingerprint, when)
        self._host_at = 0.0  # when self._host was probed (time.monotonic())

    def __repr__(self) -> str:
        return f"<SSHCluster {self.name!r} {self.target.destination()}:{self.target.port}>"

    # --- connection -------------------------------------------------------------------

    def accept_host_keys(self) -> None:
        """From now on, trust this cluster's hosts when their keys are not known yet."""
        with self._lock:
            self.target = dataclasses.replace(self.target, accept_new_host_key=True)

    def connection(self) -> SSHConnection:
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
            return self._host

    def reset_client(self) -> None:
        with self._lock:
            super().reset_client()
            if self._tunnel is not None:
                self._tunnel.close()
            self._tunnel = self._host = None

    def _connect(self, *, start: bool) -> DaemonClient:
        from rhcli.transport.grpc_client import DaemonClient

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
        self._tunnel = Tunnel(conn.transport, int(daemon["port"]))
        client = DaemonClient(
            address=self._tunnel.address,
            token=str(token),
            describe=f"the daemon on {self.name} (pid {daemon.get('pid')})",
            restart_hint=f"Restart it with `rhcli restart {self.name}`.",
        )
        try:
            check_version(self.name, client.health().version, update_command=update)
        except UnreachableError as exc:
            client.close()
            if self._tunnel.refused:  # the daemon runs: the forward itself is refused
                raise HostSetupError(
                    host=self.target.alias,
                    missing="its SSH server refuses port forwarding for "
                    f"{self.target.destination()} ({self._tunnel.refused}); rhcli reaches "
                    "its daemon on the host's loopback through a forward",
                    fix="Allow local forwarding for that user in the host's sshd_config "
                    "(`AllowTcpForwarding local` or `yes`, and no `PermitOpen none`), reload "
                    "sshd, then try again",
                ) from exc
            raise
        except BaseException:
            client.close()
            raise
        log.debug(
            "%s: daemon pid %s (root %s) through a tunnel to its port %s",
            self.name,
            daemon.get("pid"),
            host.root,
            daemon.get("port"),
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
        return f"{self.host().root}/work/{local_root.name}-{digest}"

    def prepare(self, local_root: Path) -> None:
        """Sync local_root before a call when it changed since the last sync."""
        last = self._synced.get(local_root)
        if last is not None and time.monotonic() - last[1] < SYNC_CHECK_INTERVAL_S:
            return
        self.sync(local_root)

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> sync.SyncResult:
        """Make the host's copy of the repository equal the local one."""
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
        conn = self.connection()
        sync.check_free_space(conn, the_plan, remote_dir)
        result = sync.rsync(
            self.target,
            the_plan,
            remote_dir,
            dry_run=dry_run,
            control=sync.control_path(self.name, self.target),
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
        added there); a changed key is refused all the same."""
        if accept_host_key:
            self.accept_host_keys()
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
        self.sync()
        return self

    def status(self) -> ClusterStatus:
        # Connected already (right after up): the daemon's answer is the status, no probe.
        health = None
        if self._client is not None:
            try:
                health = self._client.health()
            except RhcliError:  # gone since: the probe below says how things stand
                self.reset_client()
        host = self.host(refresh=health is None)
        if health is None and not host.daemon_alive:
            return ClusterStatus(
                name=self.name,
                type=self.type,
                up=False,
                home=host.root,
                address=f"{self.target.destination()}:{self.target.port}",
            )
        if health is None:
            health = self.client(start=False).health()
        return ClusterStatus.from_health(
            name=self.name,
            type=self.type,
            address=f"{self.target.destination()}:{self.target.port}",
            health=health,
            nodes=node_records(self.client().nodes()),
        )

    def down(self) -> bool:
        """Stop the host's daemon (and its Ray); the host itself is left alone."""
        with self._lock:
            self.reset_client()
            self._installed.clear()
            self._synced.clear()
            sync.close_master(self.target, sync.control_path(self.name, self.target))
            http_forward.stop_forward(self.name, self.target)  # its endpoints end with it
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
