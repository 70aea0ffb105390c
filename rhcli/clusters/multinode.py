"""One Ray cluster over several SSH hosts: `type: ssh` with `hosts: [head, worker, ...]`.

The head is an SSHCluster like any other (its daemon, tunnel, sync); this adds the other
nodes. `up` bootstraps every node at once (one thread each: venv, this client's rhcli),
puts the cluster's Ray token on every node through the host's shell (a 0600 file, never
printed nor on a command line; no SFTP subsystem needed), starts Ray's head on the head
node's own address, joins the other nodes as Ray workers, starts the daemon on the head
attached to that Ray, and syncs the repository (and installs reqs) on every node. A node
whose Ray is not running is (re)joined by the next `up`. `down` stops the daemon, then Ray
on every node it can reach.

Each node keeps its own rhcli root (the cluster's `home`, else RHCLI_HOME or ~/.rhcli
there) and its own copy of the code under it; node-side steps are `python -m
rhcli.server.node` run from the node's venv.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rhcli.clusters.base import Cluster
from rhcli.clusters.ssh import SSHCluster
from rhcli.config.paths import RAY_TOKEN_FILE
from rhcli.errors import UnreachableError, UsageError
from rhcli.progress import say
from rhcli.transport import bootstrap, sync
from rhcli.transport.parallel import run_parallel
from rhcli.transport.ssh import SSHConnection, SSHTarget, resolve_target

# Installs a requirement set on a worker node with the daemon's own installer (which skips
# sets installed before); argv: code root, then the reqs.
_INSTALL_REQS = r"""
import sys
from pathlib import Path
from rhcli.config.paths import rhcli_home, DaemonPaths
from rhcli.server.reqs import InstallResult, ReqsInstaller
installer = ReqsInstaller(DaemonPaths(rhcli_home()).reqs_dir)
for item in installer.install(sys.argv[2:], Path(sys.argv[1])):
    if isinstance(item, InstallResult):
        if not item.ok:
            print(item.reason, file=sys.stderr)
            sys.exit(1)
        print("skipped" if item.skipped else "installed")
    else:
        print(item, file=sys.stderr)
"""


@dataclass
class WorkerNode:
    """A non-head host of the cluster and what rhcli knows of it."""

    target: SSHTarget
    conn: SSHConnection | None = None
    state: bootstrap.HostState | None = None
    ip: str = ""
    synced: dict[Path, str] = field(default_factory=dict)  # local root -> fingerprint

    @property
    def alias(self) -> str:
        return self.target.alias


class MultiNodeSSHCluster(SSHCluster):
    """Several SSH hosts as one cluster; the first host is the head."""

    def __init__(
        self,
        name: str,
        *,
        hosts: list[str],
        user: str | None = None,
        port: int | None = None,
        key: str | None = None,
        home: str | None = None,
        accept_host_key: bool = False,
        known_hosts: str | None = None,
        ports: list[int] | None = None,
    ) -> None:
        # known_hosts: as SSHCluster's, for every node. ports: one SSH port per host (an
        # on-demand cluster's nodes may differ); None: `port` for all.
        if len(hosts) < 2:
            raise UsageError(f"cluster {name!r}: a multi-node cluster needs two hosts or more")
        if ports is not None and len(ports) != len(hosts):
            raise UsageError(f"cluster {name!r}: {len(ports)} ports for {len(hosts)} hosts")
        each = list(ports) if ports is not None else [port] * len(hosts)
        # home "" lets each node resolve its own root (RHCLI_HOME there, or ~/.rhcli).
        super().__init__(
            name,
            host=hosts[0],
            user=user,
            port=each[0],
            key=key,
            accept_host_key=accept_host_key,
            known_hosts=known_hosts,
        )
        self.home = home or ""
        self._address = ""  # the head's Ray, IP:PORT, once known
        self._token = b""
        # Node connections are made from worker threads while up() holds self._lock.
        self._nodes_lock = threading.Lock()
        self.workers = [
            WorkerNode(
                resolve_target(
                    h,
                    user=user,
                    port=p,
                    key=key,
                    known_hosts=known_hosts,
                    accept_new_host_key=accept_host_key,
                )
            )
            for h, p in zip(hosts[1:], each[1:], strict=True)
        ]

    def __repr__(self) -> str:
        return f"<MultiNodeSSHCluster {self.name!r} {1 + len(self.workers)} hosts>"

    # --- nodes ------------------------------------------------------------------------

    def _node_conn(self, node: WorkerNode) -> SSHConnection:
        with self._nodes_lock:
            if node.conn is None or not node.conn.is_active():
                node.conn = SSHConnection(node.target)
            return node.conn

    def _node_state(self, node: WorkerNode) -> bootstrap.HostState:
        node.state = bootstrap.probe(self._node_conn(node), self.home)
        return node.state

    def _node_command(
        self, conn: SSHConnection, state: bootstrap.HostState, action: str, *extra: str
    ) -> dict[str, Any]:
        argv = [state.venv_python, "-m", "rhcli.server.node", action, "--root", state.root]
        result = conn.run([*argv, *extra], timeout=240)
        if result.returncode != 0:
            raise UnreachableError(
                f"{action} of Ray on {conn.target.alias} failed: "
                + (result.stderr or result.stdout).strip()
            )
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    # --- lifecycle --------------------------------------------------------------------

    def accept_host_keys(self) -> None:
        with self._lock:
            super().accept_host_keys()
            for node in self.workers:
                node.target = dataclasses.replace(node.target, accept_new_host_key=True)

    def up(self, *, accept_host_key: bool = False) -> Cluster:
        """Bootstrap every node in parallel, bring up Ray over all of them, start the
        daemon on the head, sync the code everywhere. Idempotent; rejoins lost nodes."""
        if accept_host_key:
            self.accept_host_keys()
        with self._lock:
            conn = self.connection()
            head = self.host(refresh=True)

            def install_head() -> bool:
                return bootstrap.install(conn, head, say=say)

            def install_worker(node: WorkerNode) -> bool:
                return bootstrap.install(self._node_conn(node), self._node_state(node), say=say)

            jobs: list[Callable[[], bool]] = [install_head]
            jobs += [lambda n=node: install_worker(n) for node in self.workers]  # type: ignore[misc]
            changed = run_parallel(jobs)
            head = self.host(refresh=True)
            for node in self.workers:
                self._node_state(node)
                node.synced.clear()  # a node that was lost and rejoined may lack the code
            if self._ensure_ray(head, restart=any(changed)) and head.daemon_alive:
                say(f"{self.name}: Ray was (re)started; restarting the daemon on it")
                bootstrap.stop_daemon(conn, head)
            return super().up()  # its sync() syncs every node

    def _ensure_ray(self, head: bootstrap.HostState, *, restart: bool) -> bool:
        """Ray runs on every node, joined to the head's; True when the head's Ray was
        (re)started (the daemon must then attach anew)."""
        conn = self.connection()
        self._put_token(conn, head)
        ip = _own_address(conn)
        state = self._node_command(conn, head, "state")
        started = False
        if restart or not state["running"] or state.get("ip") != ip:
            say(f"{self.name}: starting Ray's head on {ip}")
            state = self._node_command(conn, head, "start", "--head", "--ip", ip)
            started = True
        address = str(state["address"])
        self._address = address

        def join(node: WorkerNode) -> None:
            node_conn = self._node_conn(node)
            node_state = node.state or self._node_state(node)
            self._put_token(node_conn, node_state)
            node.ip = _own_address(node_conn)
            found = self._node_command(node_conn, node_state, "state")
            if started or not found["running"] or found.get("address") != address:
                say(f"{self.name}: joining {node.alias} ({node.ip}) to Ray at {address}")
                self._node_command(
                    node_conn, node_state, "start", "--ip", node.ip, "--address", address
                )

        run_parallel([lambda n=node: join(n) for node in self.workers])  # type: ignore[misc]
        return started

    def _put_token(self, conn: SSHConnection, state: bootstrap.HostState) -> None:
        """Make the node's <root>/ray_token the cluster's (mode 0600 before any byte)."""
        conn.put(self._ray_token(), f"{state.root}/{RAY_TOKEN_FILE}", mode=0o600)

    def _ray_token(self) -> bytes:
        """The head's token (made the first time). Called first from up()'s own thread;
        the join threads then find it cached and never wait for self._lock, which up()
        holds while it waits for them."""
        if self._token:
            return self._token
        with self._lock:
            if not self._token:
                found = self.connection().get(f"{self.host().root}/{RAY_TOKEN_FILE}") or b""
                self._token = found.strip() or secrets.token_hex(32).encode()
            return self._token

    def _start_daemon(self, conn: SSHConnection, host: bootstrap.HostState) -> None:
        if not self._address:
            self._ensure_ray(host, restart=False)
        # The daemon joins with token auth and the root's ray_token by itself
        # (rhcli.server.ray_runtime), whatever the host's environment says.
        bootstrap.start_daemon(conn, host, args=["--ray-address", self._address])

    def down(self) -> bool:
        """Stop the daemon, then Ray on every node (a node out of reach is skipped, with a
        message); the hosts themselves are left alone."""
        with self._lock:
            stopped = super().down()
            self._address = ""

            def stop(conn_of: Callable[[], SSHConnection], state_of: Callable[[], Any]) -> None:
                try:
                    conn = conn_of()
                    self._node_command(conn, state_of(), "stop")
                except Exception as exc:  # a lost node must not keep the others running
                    say(f"{self.name}: could not stop Ray on a node: {exc}")

            head_conn, head_state = self.connection(), self.host()
            jobs = [lambda: stop(lambda: head_conn, lambda: head_state)]
            jobs += [
                lambda n=node: stop(lambda: self._node_conn(n), lambda: self._node_state(n))  # type: ignore[misc]
                for node in self.workers
            ]
            run_parallel(jobs)  # type: ignore[arg-type]
            for node in self.workers:  # their sshd sessions end with the connections
                if node.conn is not None:
                    node.conn.close()
                    node.conn = None
            return stopped

    # --- code -------------------------------------------------------------------------

    def sync(self, local_root: Path | None = None, *, dry_run: bool = False) -> sync.SyncResult:
        """Sync the head's copy (the result reported), then every other node's."""
        result = super().sync(local_root, dry_run=dry_run)
        if not dry_run:
            self._sync_workers(local_root)
        return result

    def _sync_workers(self, local_root: Path | None = None) -> None:
        from rhcli.function_ref import project_root

        root = (local_root or project_root()).resolve()
        the_plan = sync.plan(root)
        head_dir = self.code_root(root)
        relative = head_dir[len(self.host().root) :]

        def one(node: WorkerNode) -> None:
            if node.synced.get(root) == the_plan.fingerprint:
                return
            state = node.state or self._node_state(node)
            remote_dir = state.root + relative
            conn = self._node_conn(node)
            conn.run(["mkdir", "-p", remote_dir])
            sync.rsync(node.target, the_plan, remote_dir)
            node.synced[root] = the_plan.fingerprint

        run_parallel([lambda n=node: one(n) for node in self.workers])  # type: ignore[misc]

    def install_packages(
        self, reqs: list[str], *, local_root: Path | None = None, echo: bool = True
    ) -> bool:
        """Install reqs on the head (through its daemon), then on every other node."""
        from rhcli.function_ref import project_root

        changed = super().install_packages(reqs, local_root=local_root, echo=echo)
        root = (local_root or project_root()).resolve()
        relative = self.code_root(root)[len(self.host().root) :]

        def one(node: WorkerNode) -> bool:
            state = node.state or self._node_state(node)
            done = self._node_conn(node).run(
                [state.venv_python, "-c", _INSTALL_REQS, state.root + relative, *reqs],
                timeout=1800,
            )
            if done.returncode != 0:
                tail = "\n".join(done.stderr.strip().splitlines()[-20:])
                raise UsageError(
                    f"installing {', '.join(reqs)} on {node.alias} ({self.name}) failed:\n{tail}"
                )
            return done.stdout.strip().endswith("installed")

        installed = run_parallel([lambda n=node: one(n) for node in self.workers])  # type: ignore[misc]
        return changed or any(installed)


def _own_address(conn: SSHConnection) -> str:
    """The address the node was reached on, as the node sees it (SSH_CONNECTION's third
    field): the address other nodes reach it on when they share a network."""
    found = conn.run(["printenv", "SSH_CONNECTION"]).stdout.split()
    if len(found) < 3:
        raise UnreachableError(f"cannot tell the address of {conn.target.alias}")
    return found[2]
