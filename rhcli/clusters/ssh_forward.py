"""How a process on an SSH cluster's full path reaches its daemon: the forward.

The daemon listens on the host's loopback only. The cluster's OpenSSH master forwards a
unix socket here to that port (rhcli.transport.ssh_master); with no usable master,
paramiko's tunnel in this process forwards a local TCP port instead. A host whose sshd
refuses forwarding (`AllowTcpForwarding no`, `PermitOpen none`) accepts the forward's
listener and then closes every connection through it, so each RPC fails as a bare
"unavailable": whichever forwarder met it, that refusal is named here as the host's
setup (HostSetupError, exit 3) with the sshd setting to change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rhcli.clusters.base import check_version
from rhcli.clusters.ssh_warm import daemon_client
from rhcli.errors import UnreachableError
from rhcli.transport import host_check
from rhcli.transport.ssh_master import Master

if TYPE_CHECKING:
    from rhcli.transport.grpc_client import DaemonClient
    from rhcli.transport.ssh import SSHConnection
    from rhcli.transport.tunnel import Tunnel


def connect_forwarded(
    cluster: str, master: Master, conn: SSHConnection, port: int, token: str, pid: object
) -> tuple[DaemonClient, Tunnel | None]:
    """A client of the daemon at the host's 127.0.0.1:port, checked by one Health call,
    and paramiko's tunnel it goes through (None: through the master, which later
    processes can use as well). Blocks for that call.

    Raises VersionMismatchError for a daemon of another version, HostSetupError when
    the host refuses to forward to it, UnreachableError when it cannot be reached for
    another reason. Nothing stays open when it raises."""
    from rhcli.transport.tunnel import Tunnel, forward_refusal

    tunnel: Tunnel | None = None
    path = master.forward(port) if master.ensure() else None
    if path is None:
        tunnel = Tunnel(conn.transport, port)
    address = f"unix:{path}" if tunnel is None else tunnel.address
    client = daemon_client(cluster, address, token, pid)
    try:
        check_version(cluster, client.health().version, update_command=f"rhcli up {cluster}")
    except UnreachableError as exc:
        _close(client, tunnel)
        # The master's own messages go nowhere: ask the host once with a channel of ours.
        refused = tunnel.refused if tunnel is not None else forward_refusal(conn.transport, port)
        if refused:  # the daemon runs (the probe saw it): the forward itself is refused
            target = conn.target
            raise host_check.forwarding_refused(
                target.alias, target.destination(), refused
            ) from exc
        raise
    except BaseException:
        _close(client, tunnel)
        raise
    return client, tunnel


def _close(client: DaemonClient, tunnel: Tunnel | None) -> None:
    client.close()
    if tunnel is not None:
        tunnel.close()
