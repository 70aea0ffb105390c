"""The local cluster: this machine (``rh.cluster("local")``, ``rh.here``).

Code runs in place (no sync); the daemon runs from this interpreter, so reqs install into
this environment. The daemon is started on first use and outlives the process that
started it (``rhcli.clusters.local_daemon``).
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rhcli.clusters.base import (
    Cluster,
    ClusterStatus,
    CommandResult,
    check_version,
    node_records,
)
from rhcli.clusters.local_daemon import LocalDaemon
from rhcli.config.daemon_settings import daemon_settings
from rhcli.config.paths import rhcli_home
from rhcli.errors import AuthError, DaemonNotRunningError, NotSupportedError

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient

log = logging.getLogger(__name__)


class LocalCluster(Cluster):
    """This machine; its daemon's root is `home` (default: $RHCLI_HOME or ~/.rhcli)."""

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
        client = self._connect(start=False)
        return ClusterStatus.from_health(
            name=self.name,
            type=self.type,
            address=state.address,
            health=client.health(),
            nodes=node_records(client.nodes()),
        )

    def restart_server(self) -> Cluster:
        """Stop the daemon and start a new one. The daemon's environment settings are
        checked first: a malformed one raises UsageError with the daemon left running."""
        daemon_settings()
        return super().restart_server()

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
            try:
                check_version(
                    self.name, health.version, update_command=f"rhcli restart {self.name}"
                )
            except BaseException:
                client.close()
                raise
            log.debug(
                "local daemon pid %s at %s (root %s, rhcli %s)",
                state.pid,
                state.address,
                self.daemon.paths.root,
                health.version,
            )
            return client
        raise AssertionError("unreachable")
