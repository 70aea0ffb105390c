"""An SSH local port forward: 127.0.0.1:<free port> here -> 127.0.0.1:<port> on the host.

The daemon listens on the host's loopback only; the client reaches it through this
forward, opened once per client process and cluster and shared by every call. Each TCP
connection gRPC makes becomes one direct-tcpip channel over the one SSH connection.
The same forward, held by a process of its own, carries HTTP to the cluster's endpoints
(rhcli.transport.http_forward): that one asks for a fixed local port and reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import paramiko

log = logging.getLogger(__name__)

_BUFFER = 256 * 1024


def forward_refusal(transport: paramiko.Transport, remote_port: int) -> str:
    """Why the host refuses to forward to 127.0.0.1:remote_port on its side ("" when it
    does not refuse it). Asks once, with a channel of its own: a way to learn the reason
    when another forwarder (OpenSSH's master, whose messages nobody reads) failed. Only a
    refusal by the host's policy (`AllowTcpForwarding`, `PermitOpen`) counts; a port with
    nothing listening is not that."""
    try:
        channel = transport.open_channel(
            "direct-tcpip", ("127.0.0.1", remote_port), ("127.0.0.1", 0), timeout=10
        )
    except paramiko.ChannelException as exc:
        if exc.code == paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED:
            return f"{type(exc).__name__}: {exc}"
        return ""
    except (paramiko.SSHException, OSError):
        return ""
    channel.close()
    return ""


class Tunnel:
    """Forwards local connections to remote_port on the host's loopback."""

    def __init__(
        self,
        transport: paramiko.Transport,
        remote_port: int,
        *,
        local_port: int = 0,
        reconnect: Callable[[], paramiko.Transport] | None = None,
    ) -> None:
        """local_port: the port to listen on (0: any free one; a taken one is refused with
        OSError). reconnect: makes a new SSH transport when the one in use has died (for
        a forward that outlives connections); without it, a dead transport stays dead."""
        self._transport = transport
        self._reconnect = reconnect
        # Several RPCs share the SSH connection at once (a call and its log stream): with
        # Nagle's algorithm on, a small write waits for the ACK of the previous one, which
        # the host delays by up to 40 ms. (A ProxyCommand or jump host has no socket here.)
        sock = getattr(transport, "sock", None)
        if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.remote_port = remote_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", local_port))
        self._listener.listen(64)
        self.local_port: int = self._listener.getsockname()[1]
        # Why the host refused the last forwarded connection ("" while none was refused):
        # a host with port forwarding off fails every RPC, and this is the reason to show.
        self.refused = ""
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"tunnel:{self.local_port}", daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.local_port}"

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return
            try:
                if self._reconnect is not None and not self._transport.is_active():
                    self._transport = self._reconnect()
            except Exception as exc:  # SSH or network down (reconnect raises rhcli errors)
                log.debug("tunnel: cannot reconnect: %s", exc)
                conn.close()
                continue
            try:
                channel = self._transport.open_channel(
                    "direct-tcpip", ("127.0.0.1", self.remote_port), peer
                )
            except (paramiko.SSHException, OSError) as exc:
                log.debug("tunnel: the host refused a forwarded connection: %s", exc)
                self.refused = f"{type(exc).__name__}: {exc}"
                conn.close()
                continue
            threading.Thread(
                target=_pipe,
                args=(conn, channel),
                daemon=True,
                name=f"tunnel-pipe:{self.local_port}",
            ).start()


def _pipe(conn: socket.socket, channel: paramiko.Channel) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            sources: list[Any] = [conn, channel]
            readable, _, _ = select.select(sources, [], [])
            if conn in readable:
                data = conn.recv(_BUFFER)
                if not data:
                    break
                channel.sendall(data)
            if channel in readable:
                data = channel.recv(_BUFFER)
                if not data:
                    break
                conn.sendall(data)
    except OSError:
        pass
    finally:
        channel.close()
        conn.close()
